"""The harvest-shift simulator: camera video, on-board sensors and ground truth for combines in a field.

    from mlway.sim import ShiftConfig, write_shift, live_frames, open_shift

    write_shift(ShiftConfig(machines=3, hours=0.5, seed=7), Path("data/shift"))     # files
    for f in live_frames(ShiftConfig(hours=0.1), speed=10.0): ...                    # a live stream
    for f in open_shift("data/shift").frames(step=5): f.frame, f.label               # read back, labelled

Frames are RGB uint8 arrays (height, width, 3); times are seconds since the shift's start on the
camera clock. Same config, same frames, sensors and events.
"""

from mlway.sim.config import ShiftConfig, machine_id, parse_size
from mlway.sim.fleet import CameraPose, Machine, machine
from mlway.sim.labels import CAMERAS, CLASSES, FAILURE_MODES, STATES, Camera
from mlway.sim.live import alive_frames, live_frames
from mlway.sim.preview import contact_sheet, write_contact_sheet
from mlway.sim.reader import RecordedShift, open_shift
from mlway.sim.sensors import SENSORS, SensorClock
from mlway.sim.shift import Shift, SimFrame
from mlway.sim.video import VideoWriter, read_frames
from mlway.sim.writer import ShiftOutput, write_shift

__all__ = [
    "CAMERAS",
    "CLASSES",
    "FAILURE_MODES",
    "SENSORS",
    "STATES",
    "Camera",
    "CameraPose",
    "Machine",
    "RecordedShift",
    "SensorClock",
    "Shift",
    "ShiftConfig",
    "ShiftOutput",
    "SimFrame",
    "VideoWriter",
    "alive_frames",
    "contact_sheet",
    "live_frames",
    "machine",
    "machine_id",
    "open_shift",
    "parse_size",
    "read_frames",
    "write_contact_sheet",
    "write_shift",
]

"""Camera poses belong to the machine: the same combine keeps them across shifts, a new one brings new ones."""

from __future__ import annotations

from mlway.sim import Shift, ShiftConfig, machine


def test_pose_depends_on_machine_and_pose_seed_only() -> None:
    a = Shift(ShiftConfig(machines=2, hours=0.01, seed=1)).machines["combine-02"]
    b = Shift(ShiftConfig(machines=3, hours=0.01, seed=99)).machines["combine-02"]
    assert a.poses == b.poses
    assert a == machine(2)
    assert machine(2, pose_seed=5).poses != a.poses


def test_machines_have_different_poses_per_camera() -> None:
    fleet = [machine(n) for n in range(1, 11)]
    assert len({m.poses["header"] for m in fleet}) == 10
    assert len({m.poses["auger"] for m in fleet}) == 10
    for m in fleet:
        for pose in m.poses.values():
            assert -6.0 <= pose.angle_deg <= 6.0
            assert 1.0 <= pose.zoom <= 1.3
            assert abs(pose.offset_x) <= 0.07
            assert abs(pose.offset_y) <= 0.07


def test_a_pose_shifts_the_picture() -> None:
    m = machine(3)
    matrix = m.poses["auger"].matrix(320, 240)
    assert matrix.shape == (2, 3)
    assert not (matrix[:, :2] == [[1, 0], [0, 1]]).all() or (matrix[:, 2] != 0).any()

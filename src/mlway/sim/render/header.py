"""The header camera: on the cab roof, looking ahead over the header into the crop or the stubble."""

from __future__ import annotations

import math

import cv2
import numpy as np

from mlway.sim.fleet import Machine
from mlway.sim.render import draw
from mlway.sim.render.draw import RGB
from mlway.sim.render.ground import TEXELS_PER_M, GroundView
from mlway.sim.render.scene import Scene
from mlway.sim.render.textures import U8, crop_texture, field_texture, stubble_texture

HORIZON = 0.30
CUTTER = 0.70  # cutter bar row with the header down
RAISE = 0.09  # how far the cutter bar climbs in the image when the header is raised
REEL_BATS = 5
LAMP = ((0.5, 0.75), (0.6, 0.45))
_TINES = np.linspace(0.07, 0.93, 16)
_GUARDS = np.linspace(0.0, 1.0, 40)  # the work lights' pool on the header and the crop ahead
REEL_RAD_S = 4.2  # about 40 rpm


class HeaderPainter:
    def __init__(self, width: int, height: int, machine: Machine, rng: np.random.Generator) -> None:
        self.w, self.h = width, height
        self.machine = machine
        self.ground = GroundView(width, height, horizon=HORIZON, height_m=3.6, focal=0.85, yaw=0.0, fog_m=80.0)
        hue = float(rng.uniform(-1, 1))
        crop = crop_texture(rng, (256, 512), hue)
        self.stubble = stubble_texture(rng, (256, 256), hue, windrow=float(rng.uniform(0.2, 0.8)))
        edge = float(rng.uniform(0.7, 0.8))
        self.field = field_texture(crop, stubble_texture(rng, (256, 512), hue, windrow=0.9), edge=edge)
        # the camera rides 4 to 6 m left of the crop's edge, so the cut side shows at the header's end
        self.crop_x = edge * 512 / TEXELS_PER_M - float(rng.uniform(4.0, 6.0))
        self.trees = draw.treeline_profile(rng, 4 * width)
        self.pan = cv2.resize(crop, (width, max(2, height // 3)))

    def paint(self, s: Scene, rng: np.random.Generator) -> U8:
        img = np.empty((self.h, self.w, 3), np.uint8)
        top = self.ground.top
        draw.sky(img, top, s.light.sky_top, s.light.sky_horizon)
        shift = int(s.heading / (2 * math.pi) * self.trees.shape[0])
        trees: RGB = draw.shade((46.0, 62.0, 40.0), 0.3 + 0.7 * s.light.daylight)
        draw.treeline(img, self.trees, top, shift=shift, color=trees, tall=0.035)
        if s.crop:
            rows = self.ground.sample(self.field, x_m=self.crop_x, y_m=s.distance, heading=s.heading % math.pi)
        else:
            rows = self.ground.sample(self.stubble, x_m=s.pos_x, y_m=s.pos_y, heading=s.heading)
        img[top:] = self.ground.with_fog(rows, s.light.sky_horizon)
        cutter = CUTTER - RAISE * s.header_up
        if s.cutting > 0.05:
            self._crop_rush(img, cutter, s.cutting)
        self._reel(img, cutter, s)
        self._body(img, cutter, s)
        if s.cutting > 0.05:
            self._chaff(img, cutter, s.cutting, rng)
        return img

    def _crop_rush(self, img: U8, cutter: float, cutting: float) -> None:
        """Crop bending towards the knife and blurred by the motion just ahead of the cutter bar."""
        y0, y1 = int((cutter - 0.12) * self.h), int(cutter * self.h) + 1
        k = 3 + 2 * round(3 * cutting)
        img[y0:y1] = cv2.blur(img[y0:y1], (1, k))

    def _reel(self, img: U8, cutter: float, s: Scene) -> None:
        m = self.machine
        axis, radius = cutter - 0.085, 0.07
        running = s.cutting > 0.05
        phase = s.time * REEL_RAD_S * (1.0 if running else 0.0) + m.number
        body: RGB = tuple(float(c) for c in m.body)  # type: ignore[assignment]
        color = draw.shade(tuple(float(c) for c in m.accent), 0.95)  # type: ignore[arg-type]
        for x in (0.04, 0.96):
            draw.line(img, (x, axis - radius), (x, cutter), draw.shade(body, 0.8), 0.014)
        draw.line(img, (0.04, axis), (0.96, axis), (60.0, 60.0, 60.0), 0.01)
        for k in range(REEL_BATS):
            theta = phase + 2 * math.pi * k / REEL_BATS
            if math.cos(theta) < -0.1:
                continue  # behind the reel's axis
            smear = (0.0, 0.1, 0.2, 0.3) if running else (0.0,)
            for j, d in enumerate(smear):
                y = axis - radius * math.sin(theta - d)
                c = draw.mix(color, (170.0, 150.0, 100.0), 0.2 * j)
                draw.line(img, (0.04, y), (0.96, y), c, 0.018 if j == 0 else 0.01)
            y = axis - radius * math.sin(theta)
            starts = np.stack([_TINES, np.full(len(_TINES), y)], axis=1)
            draw.segments(img, starts, starts + np.array([0.0, 0.03]), (70.0, 70.0, 70.0), 0.003)

    def _body(self, img: U8, cutter: float, s: Scene) -> None:
        m = self.machine
        body: RGB = tuple(float(c) for c in m.body)  # type: ignore[assignment]
        metal: RGB = (84.0, 84.0, 88.0)
        auger_top = cutter + 0.1
        back = auger_top + 0.1
        draw.poly(img, [(-0.05, cutter), (1.05, cutter), (1.1, 1.0), (-0.1, 1.0)], metal)
        if s.cutting > 0.05:  # cut crop carried over the platform to the auger
            y0, y1 = int(cutter * self.h) + 1, int(auger_top * self.h)
            if y1 > y0:
                rows = self.pan[(np.arange(y1 - y0) + int(s.time * 37)) % self.pan.shape[0]]
                img[y0:y1] = cv2.blur(rows, (7, 1))
        draw.poly(img, [(0.0, auger_top), (1.0, auger_top), (1.0, back), (0.0, back)], (132.0, 132.0, 136.0))
        turn = s.time * 6.0 if s.cutting > 0.05 else 0.0
        xs = (np.arange(14) / 13.0 + (turn / 20.0) % (1 / 13.0)) * 1.04 - 0.02
        starts = np.stack([xs, np.full(14, auger_top)], axis=1)
        draw.segments(img, starts, starts + np.array([0.04, back - auger_top]), (72.0, 72.0, 76.0), 0.01)
        draw.poly(img, [(-0.05, back), (1.05, back), (1.05, 1.0), (-0.05, 1.0)], body)
        draw.poly(img, [(0.4, back + 0.01), (0.6, back + 0.01), (0.62, 1.0), (0.38, 1.0)], (28.0, 28.0, 28.0))
        draw.line(img, (-0.05, cutter), (1.05, cutter), (40.0, 40.0, 40.0), 0.012)
        guards = np.stack([_GUARDS, np.full(len(_GUARDS), cutter)], axis=1)
        draw.segments(img, guards, guards + np.array([0.004, -0.012]), (150.0, 150.0, 150.0), 0.004)
        for side in (0.0, 1.0):
            tip = 0.03 if side == 0.0 else 0.97
            edge = 0.09 if side == 0.0 else 0.91
            draw.poly(img, [(tip, cutter - 0.07), (edge, cutter + 0.02), (edge + (side - 0.5) * 0.08, 1.0),
                            (side + (side - 0.5) * 0.2, 1.0), (side, cutter)], body)  # fmt: skip

    def _chaff(self, img: U8, cutter: float, cutting: float, rng: np.random.Generator) -> None:
        n = int(60 * cutting)
        starts = np.stack([rng.uniform(0.05, 0.95, n), cutter + rng.uniform(-0.14, 0.02, n)], axis=1)
        ends = starts + np.stack([rng.uniform(-0.01, 0.01, n), np.full(n, 0.008)], axis=1)
        light = rng.random(n) < 0.7
        draw.segments(img, starts[light], ends[light], (230.0, 205.0, 140.0), 0.004)
        draw.segments(img, starts[~light], ends[~light], (120.0, 100.0, 60.0), 0.004)

"""The auger camera: on the grain tank, looking out along the unloading auger to the grain cart beside."""

from __future__ import annotations

import math

import numpy as np

from mlway.sim.fleet import Machine
from mlway.sim.render import draw
from mlway.sim.render.draw import GRAIN, GRAIN_DARK, RGB, Point
from mlway.sim.render.ground import GroundView
from mlway.sim.render.scene import Scene
from mlway.sim.render.textures import U8, stubble_texture

HORIZON = 0.30
PIVOT: Point = (0.10, 0.80)
TIP_OUT: Point = (0.66, 0.25)  # the auger's end, unfolded
FOLDED_ANGLE = math.radians(-104.0)  # folded back along the combine
SPOUT = (0.012, 0.075)
RIM = 0.55  # grain cart's rim row
LAMP = ((0.62, 0.5), (0.35, 0.35))  # the unloading light's pool

_CARTS: tuple[tuple[RGB, RGB], ...] = (
    ((52.0, 110.0, 58.0), (52.0, 110.0, 58.0)),  # green tractor, green cart
    ((168.0, 40.0, 34.0), (40.0, 90.0, 50.0)),  # red cart, green tractor
    ((44.0, 80.0, 150.0), (150.0, 36.0, 30.0)),  # blue cart, red tractor
    ((150.0, 150.0, 146.0), (225.0, 225.0, 220.0)),  # truck: grey box, white cab
)


class AugerPainter:
    def __init__(self, width: int, height: int, machine: Machine, rng: np.random.Generator) -> None:
        self.w, self.h = width, height
        self.machine = machine
        self.ground = GroundView(width, height, horizon=HORIZON, height_m=4.5, focal=0.8, yaw=math.pi / 2, fog_m=90.0)
        self.stubble = stubble_texture(rng, (256, 256), float(rng.uniform(-1, 1)), windrow=float(rng.uniform(0.2, 0.8)))
        self.trees = draw.treeline_profile(rng, 4 * width)
        dx, dy = TIP_OUT[0] - PIVOT[0], (TIP_OUT[1] - PIVOT[1]) * height / width
        self.out_angle, self.length = math.atan2(dy, dx), math.hypot(dx, dy)

    def paint(self, s: Scene, rng: np.random.Generator) -> U8:
        img = np.empty((self.h, self.w, 3), np.uint8)
        top = self.ground.top
        draw.sky(img, top, s.light.sky_top, s.light.sky_horizon)
        day = 0.3 + 0.7 * s.light.daylight
        shift = int(s.heading / (2 * math.pi) * self.trees.shape[0] + s.distance * 2)
        draw.treeline(img, self.trees, top, shift=shift, color=draw.shade((46.0, 62.0, 40.0), day), tall=0.04)
        rows = self.ground.sample(self.stubble, x_m=s.pos_x, y_m=s.pos_y, heading=s.heading)
        img[top:] = self.ground.with_fog(rows, s.light.sky_horizon)
        if s.distractor_x is not None:
            self._other_combine(img, s.distractor_x, s.distractor_depth, day, rng)
        tip = self._tip(s.auger_out)
        spout = (tip[0] + SPOUT[0], tip[1] + SPOUT[1])
        if s.cart_pos is not None:
            self._cart(img, spout[0] + 0.9 * s.cart_pos, s.cart_fill, s.cart_style)
        if s.spill > 0.01:
            draw.ellipse(img, (0.36, 0.86), (0.07 * s.spill + 0.01, 0.025 * s.spill + 0.005), GRAIN_DARK)
        self._body(img)
        self._auger(img, tip, spout, s, rng)
        return img

    def _tip(self, out: float) -> Point:
        a = FOLDED_ANGLE + (self.out_angle - FOLDED_ANGLE) * out
        return PIVOT[0] + self.length * math.cos(a), PIVOT[1] + self.length * math.sin(a) * self.w / self.h

    def _body(self, img: U8) -> None:
        body: RGB = tuple(float(c) for c in self.machine.body)  # type: ignore[assignment]
        draw.poly(img, [(0.0, 0.62), (0.16, 0.7), (0.2, 1.0), (0.0, 1.0)], body)
        draw.poly(img, [(0.0, 0.58), (0.17, 0.66), (0.16, 0.7), (0.0, 0.62)], draw.shade(body, 1.25))
        draw.line(img, (0.03, 0.75), (0.18, 0.8), draw.shade(body, 0.6), 0.006)
        accent: RGB = tuple(float(c) for c in self.machine.accent)  # type: ignore[assignment]
        draw.poly(img, [(0.05, 0.84), (0.14, 0.86), (0.14, 0.9), (0.05, 0.88)], accent)

    def _auger(self, img: U8, tip: Point, spout: Point, s: Scene, rng: np.random.Generator) -> None:
        tube: RGB = draw.shade(tuple(float(c) for c in self.machine.body), 0.95)  # type: ignore[arg-type]
        draw.line(img, PIVOT, tip, draw.shade(tube, 0.7), 0.06)
        draw.line(img, PIVOT, tip, tube, 0.045)
        draw.line(img, (PIVOT[0], PIVOT[1] - 0.015), (tip[0], tip[1] - 0.008), draw.shade(tube, 1.35), 0.008)
        if s.auger_out < 0.6:
            return
        if s.flow > 0.02:
            heap = (spout[0] + 0.01, RIM - 0.02 * s.cart_fill)
            draw.grain_stream(img, rng, spout, heap, width=0.055, flow=s.flow)
            draw.ellipse(img, heap, (0.06 * s.flow, 0.025 * s.flow), (236.0, 214.0, 160.0))  # dust where it lands
        if s.failure == 2:  # blocked spout: a plug at the outlet, grain spilling from the tube beside the cart
            for _ in range(int(3 + 5 * max(s.spill, 0.3))):
                x = rng.uniform(0.3, 0.42)
                y = PIVOT[1] + (tip[1] - PIVOT[1]) * (x - PIVOT[0]) / (tip[0] - PIVOT[0])
                draw.line(img, (x, y + 0.02), (x + rng.uniform(-0.03, 0.03), 0.85), GRAIN, 0.006)
        elif s.failure == 1:  # auger running empty: a few kernels at most
            for _ in range(int(rng.integers(0, 3))):
                y = rng.uniform(spout[1], RIM)
                draw.ellipse(img, (spout[0] + rng.uniform(-0.01, 0.01), y), (0.003, 0.004), GRAIN)
        draw.line(img, tip, spout, draw.shade(tube, 0.8), 0.04)
        if s.failure == 2:
            draw.ellipse(img, (spout[0], spout[1] + 0.01), (0.018, 0.022), (96.0, 80.0, 52.0))

    def _cart(self, img: U8, x: float, fill: float, style: int) -> None:
        box, tractor = _CARTS[style % len(_CARTS)]
        tall = 0.2 if style == 3 else 0.14
        left, right = x - 0.2, x + 0.18
        draw.poly(img, [(left, RIM), (right, RIM), (right - 0.01, RIM + tall), (left + 0.01, RIM + tall)], box)
        draw.poly(img, [(left + 0.01, RIM - 0.035), (right + 0.01, RIM - 0.035), (right, RIM), (left, RIM)],
                  draw.shade(box, 0.45))  # fmt: skip  # the open top, seen from above
        if fill > 0.02:
            heap = 0.035 + 0.05 * fill
            draw.ellipse(img, (x + 0.01, RIM - 0.018), (0.17 * min(1.0, 0.4 + fill), heap * 0.7), GRAIN)
            draw.ellipse(
                img, (x + 0.015, RIM - 0.025), (0.08 * min(1.0, 0.4 + fill), heap * 0.4), (236.0, 196.0, 104.0)
            )
        draw.line(img, (left, RIM), (right, RIM), draw.shade(box, 1.3), 0.008)
        for wx in (left + 0.08, right - 0.08):
            draw.ellipse(img, (wx, RIM + tall + 0.02), (0.035, 0.045), (30.0, 30.0, 30.0))
        cab_x = right + 0.04
        draw.poly(img, [(cab_x, RIM + 0.02), (cab_x + 0.12, RIM + 0.02), (cab_x + 0.12, RIM + tall),
                        (cab_x, RIM + tall)], tractor)  # fmt: skip
        draw.poly(img, [(cab_x + 0.01, RIM - 0.08), (cab_x + 0.08, RIM - 0.08), (cab_x + 0.08, RIM + 0.02),
                        (cab_x + 0.01, RIM + 0.02)], (60.0, 80.0, 90.0))  # fmt: skip
        draw.ellipse(img, (cab_x + 0.04, RIM + tall + 0.02), (0.05, 0.065), (25.0, 25.0, 25.0))

    def _other_combine(self, img: U8, x: float, depth: float, day: float, rng: np.random.Generator) -> None:
        """Another combine unloading into its own cart further off: a grain stream that is not ours."""
        k = 0.35 + 0.45 * depth
        base = HORIZON + 0.05 + 0.12 * depth
        haze = 0.45 * (1 - depth)
        col = draw.mix(
            draw.shade((150.0, 176.0, 50.0) if depth > 0.5 else (176.0, 40.0, 30.0), day), (170, 175, 180), haze
        )
        cart = draw.mix(draw.shade((52.0, 100.0, 60.0), day), (170, 175, 180), haze)
        w, h = 0.16 * k, 0.16 * k
        draw.poly(img, [(x, base - h), (x + w, base - h), (x + w, base), (x, base)], col)
        cab = [(x + 0.6 * w, base - 1.5 * h), (x + w, base - 1.5 * h), (x + w, base - h), (x + 0.6 * w, base - h)]
        draw.poly(img, cab, draw.mix(col, (60, 70, 80), 0.6))
        draw.ellipse(img, (x + 0.25 * w, base), (0.03 * k, 0.05 * k), (30.0, 30.0, 30.0))
        end = (x - 0.9 * w, base - 1.3 * h)
        draw.line(img, (x + 0.2 * w, base - h), end, col, 0.02 * k)
        cx = end[0]
        top, bottom = base - 0.45 * h, base + 0.1 * h
        draw.poly(
            img, [(cx - 0.5 * w, top), (cx + 0.4 * w, top), (cx + 0.38 * w, bottom), (cx - 0.48 * w, bottom)], cart
        )
        draw.grain_stream(img, rng, (end[0], end[1] + 0.01), (end[0] + 0.005, top), width=0.035 * k, flow=1.0)

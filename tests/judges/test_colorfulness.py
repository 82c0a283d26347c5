"""Colourfulness against hand-computed values of the Hasler-Süsstrunk formula on synthetic images."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from evalsuite.registry import JUDGES
from evalsuite.runner import judge_verdicts
from evalsuite.types import Case, JudgeInput
from judges.colorfulness import ColorfulnessJudge, colorfulness


def test_grey_is_zero_and_a_flat_colour_is_0_3_times_the_mean_opponent_norm():
    assert colorfulness(Image.new("RGB", (8, 8), (128, 128, 128))) == 0.0
    # pure red (255, 0, 0): rg = 255, yb = 127.5, no spread -> 0.3 * sqrt(255^2 + 127.5^2)
    assert colorfulness(Image.new("RGB", (8, 8), (255, 0, 0))) == pytest.approx(0.3 * math.sqrt(255 ** 2 + 127.5 ** 2))
    # (100, 50, 200): rg = 50, yb = 75 - 200 = -125
    assert colorfulness(Image.new("RGB", (3, 5), (100, 50, 200))) == pytest.approx(0.3 * math.sqrt(50 ** 2 + 125 ** 2))


def test_half_red_half_blue():
    # left half red (255,0,0): rg=255, yb=127.5; right half blue (0,0,255): rg=0, yb=-255
    a = np.zeros((4, 8, 3), np.uint8)
    a[:, :4] = (255, 0, 0)
    a[:, 4:] = (0, 0, 255)
    s_rg, s_yb = 255 / 2, (127.5 + 255) / 2            # population std of two equal halves
    m_rg, m_yb = 255 / 2, (127.5 - 255) / 2
    want = math.sqrt(s_rg ** 2 + s_yb ** 2) + 0.3 * math.sqrt(m_rg ** 2 + m_yb ** 2)
    assert colorfulness(Image.fromarray(a)) == pytest.approx(want)          # 272.62: sqrt(127.5² + 191.25²) + 0.3·sqrt(127.5² + 63.75²)
    assert want == pytest.approx(229.8541 + 42.7647, abs=1e-3)


def test_registered_and_judged_through_the_runner_contract():
    assert JUDGES.get("colorfulness") is ColorfulnessJudge
    case = Case("c", "t2i", "p", (0, 1))
    ims = [Image.new("RGB", (4, 4), (128, 128, 128)), Image.new("RGB", (4, 4), (255, 0, 0))]
    vs = judge_verdicts(ColorfulnessJudge(), [JudgeInput(case, s, im, str(s)) for s, im in enumerate(ims)])
    assert [(v.seed, v.metric, round(v.value, 4)) for v in vs] == [(0, "colorfulness", 0.0),
                                                                   (1, "colorfulness", 85.5296)]

"""The drawn prior (issue 12, part 1): samples stay on the strokes, its KDE integrates to 1, the drawing survives a
checkpoint, the text encoding and a share link under 2 KB, and bad drawings or files get one line naming them."""

from urllib.parse import urlencode

import numpy as np
import pytest
import torch

from aae_core import drawn_prior
from aae_core.checkpoints import load_checkpoint, read_metadata, save_checkpoint
from aae_core.cli import train_main
from aae_core.config import AAEError, build_run_config
from aae_core.drawn_prior import Drawing, decode, encode, encode_short, read_points_file
from aae_core.models import build_model
from aae_core.priors import DrawnPrior, make_prior
from explorer.settings import Settings, query_of, settings_from_query
from tests.helpers import rewrite_meta


def circle(r: float = 8.0, n: int = 60, centre=(0.0, 0.0)) -> list:
    t = np.linspace(0, 2 * np.pi, n)
    return np.c_[centre[0] + r * np.cos(t), centre[1] + r * np.sin(t)].tolist()


def prior_of(strokes: list, tags: list | None = None, spread: float = 0.5) -> DrawnPrior:
    text = encode(Drawing.of(strokes, tags))
    prior = make_prior(build_run_config(prior="points", points=text, spread=spread).prior)
    assert isinstance(prior, DrawnPrior)
    return prior


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---- sampling ---------------------------------------------------------------------------------------


def test_samples_stay_on_the_strokes_within_the_spread():
    prior = prior_of([circle(), [[-3, 0], [3, 0]]], spread=0.2)
    z = prior.sample(20_000, generator=gen())
    d = prior.distance(z)
    # The distance to a curve of a point spread by N(0, s^2 I) is |N(0, s^2)| across it: mean s sqrt(2 / pi).
    assert d.mean().item() == pytest.approx(0.2 * np.sqrt(2 / np.pi), rel=0.1)
    assert d.max().item() < 6 * 0.2
    assert prior.distance(torch.tensor([[0.0, 4.0]])).item() == pytest.approx(4.0, abs=0.05), "off the strokes"


def test_each_stroke_holds_the_same_share_spread_evenly_by_length():
    # Stroke 0: an L of legs 1 and 3; stroke 1: a single clicked point far away.
    prior = prior_of([[[0, 0], [1, 0], [1, 3]], [[20, 20]]], spread=0.01)
    z = prior.sample(40_000, generator=gen()).numpy()
    far = np.linalg.norm(z - [20, 20], axis=1) < 0.1
    assert far.mean() == pytest.approx(0.5, abs=0.01)
    leg = z[~far]
    # The leg of length 1 holds a quarter of the stroke by length, so its first half an eighth.
    assert (leg[:, 0] < 0.5).mean() == pytest.approx(0.125, abs=0.01)
    assert (leg[:, 1] > 1.5).mean() == pytest.approx(0.375, abs=0.01), "the upper half of the long leg: 3/8"


def test_tagged_strokes_give_label_parts_and_labels_pick_their_strokes():
    prior = prior_of([circle(2, centre=(-8, 0)), circle(2, centre=(8, 0)), [[0, 8], [0, 10]]], [1, 0, 1], spread=0.1)
    assert prior.n_parts == 2
    labels = torch.tensor([0] * 500 + [1] * 500)
    z = prior.sample(1000, labels, gen()).numpy()
    assert (np.abs(z[:500] - [8, 0]).max(1) < 2.5).all(), "label 0: the right circle only"
    ones = z[500:]
    assert ((np.abs(ones - [-8, 0]).max(1) < 2.5) | (ones[:, 1] > 7.5)).all(), "label 1: its two strokes"
    assert prior_of([circle()], [None]).n_parts == 0, "untagged: no parts, so no label conditioning"
    assert prior_of([circle(), circle(3)], [0, 2]).n_parts == 0, "tags must be exactly 0..K-1"


def test_kde_is_a_density_wider_than_the_drawing_and_says_it_is_approximate():
    prior = prior_of([circle(), [[0, 0]]], spread=0.3)
    g = torch.linspace(-25, 25, 501)
    x, y = torch.meshgrid(g, g, indexing="ij")
    grid = torch.stack([x.flatten(), y.flatten()], 1)
    mass = prior.log_prob(grid).exp().sum().item() * (50 / 500) ** 2
    assert mass == pytest.approx(1.0, abs=0.01)
    assert not prior.exact_density and "kernel density estimate" in prior.density_note
    assert prior.bandwidth > prior.config.spread, "Scott's bandwidth blurs the strokes"
    on, off = prior.log_prob(torch.tensor([[8.0, 0.0], [4.0, 0.0]]))
    assert on > off, "densest on the stroke"


# ---- the encoding, checkpoints and links -----------------------------------------------------------


def test_encoding_round_trips_to_the_quantum_with_tags():
    drawing = Drawing.of([circle(), [[1.234, -5.678]], [[-999, 999], [999, -999]]], [3, None, 0])
    text = encode(drawing)
    back = decode(text)
    assert back.tags == (3, None, 0)
    for a, b in zip(drawing.strokes, back.strokes):
        assert np.abs(a - b).max() <= drawn_prior.QUANTUM / 2 + 1e-9
    assert encode(back) == text
    assert set(text) <= set(drawn_prior._ALPHABET + ".~"), "URL-safe characters only"


def test_a_long_drawing_is_simplified_to_fit_a_share_link_and_stays_close():
    t = np.linspace(0, 6 * np.pi, 3000)
    spiral = np.c_[t * np.cos(t), t * np.sin(t)] * 0.7
    drawing = Drawing.of([spiral.tolist()])
    assert len(encode(drawing)) > drawn_prior.URL_CHARS
    short = decode(encode_short(drawing))
    assert len(encode(short)) <= drawn_prior.URL_CHARS
    near = drawn_prior.Strokes(short).distance(torch.as_tensor(spiral))
    assert near.max().item() < 0.25, "the simplified spiral stays within a quarter unit of the drawn one"
    settings = Settings(prior="points", points=encode(drawing), spread=0.3)
    url = "http://localhost:8501/?" + urlencode(query_of(settings))
    assert len(url) < 2000
    found, ignored = settings_from_query(query_of(settings))
    assert not ignored and found["prior"] == "points" and len(found["points"]) <= drawn_prior.URL_CHARS
    assert drawn_prior.Strokes(decode(found["points"])).distance(torch.as_tensor(spiral)).max().item() < 0.25


def test_a_bad_drawing_in_a_link_is_ignored_by_name():
    found, ignored = settings_from_query({"prior": "points", "draw": "Wo1!!"})
    assert "points" not in found and ignored == ["draw=Wo1!!"]


def test_drawing_round_trips_through_a_checkpoint_and_is_checked_on_load(tmp_path):
    text = encode(Drawing.of([circle(), [[0, 0]]], [None, None]))
    cfg = build_run_config(prior="points", points=text, spread=0.4)
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / "drawn", build_model(cfg.model), cfg, step=3)
    ckpt = load_checkpoint(path)
    assert ckpt.config.prior == cfg.prior and ckpt.config.prior.points == text
    a, b = make_prior(cfg.prior).sample(50, generator=gen()), make_prior(ckpt.config.prior).sample(50, generator=gen())
    assert torch.equal(a, b)
    rewrite_meta(path, lambda m: m["config"]["prior"].update(points="W"))
    with pytest.raises(AAEError, match="drawn.safetensors: points: stroke 1 ends in the middle of a point"):
        read_metadata(path)
    many = encode(Drawing(tuple(np.array([[i * 0.1, 0.0]]) for i in range(10_001)), (None,) * 10_001))
    rewrite_meta(path, lambda m: m["config"]["prior"].update(points=many))
    with pytest.raises(AAEError, match="10,001 points, more than the 10,000"):
        read_metadata(path)


def test_a_checkpoint_from_before_drawn_priors_still_loads(tmp_path):
    cfg = build_run_config(prior="mixture")
    path = save_checkpoint(tmp_path / "old", build_model(cfg.model), cfg, step=1)
    rewrite_meta(path, lambda m: [m["config"]["prior"].pop(k) for k in ("points", "spread")])
    assert read_metadata(path)["run_config"] == cfg


# ---- bad drawings and files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "strokes, message",
    [
        ([], "the drawing is empty"),
        ([[[1, 2]]], "the drawing is a single point"),
        ([[[1, 2], [1, 2]], [[1.001, 2]]], "the drawing is a single point"),
        ([[[np.nan, 2], [3, 4]]], "NaN or infinite"),
        ([[[0, 0], [2000, 0]]], "within ±1000"),
        ([[[i, 0]] for i in range(100_000)], "100,000 points, more than the 10,000"),
    ],
    ids=["empty", "one-point", "one-point-repeated", "nan", "far", "100k"],
)
def test_bad_drawings_get_one_line_naming_them(strokes, message):
    with pytest.raises(AAEError, match=message) as e:
        Drawing.of(strokes)
    assert str(e.value).startswith("points: ") and "\n" not in str(e.value)


@pytest.mark.parametrize("text", ["!", "~", "~!W0", "W", "WWWWWWWWW0"], ids=["char", "tag", "bad-tag", "half", "huge"])
def test_garbage_text_is_refused_by_name(text):
    with pytest.raises(AAEError, match="points: "):
        decode(text)


def test_points_files_csv_with_or_without_header_and_npz(tmp_path):
    (tmp_path / "a.csv").write_text("x,y\n0,0\n1,1\n2,0\n")
    (tmp_path / "b.csv").write_text("0, 0\n1, 1\n2, 0\n")
    np.savez(tmp_path / "c.npz", z=np.array([[0, 0], [1, 1], [2, 0]], dtype=np.float32))
    texts = {read_points_file(tmp_path / f) for f in ("a.csv", "b.csv", "c.npz")}
    (text,) = texts
    assert decode(text).n_vertices == 3 and all(len(s) == 1 for s in decode(text).strokes), "each row a point"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("one.csv", "x,y\n1,2\n", "single point"),
        ("nan.csv", "1,2\nnan,3\n", "NaN"),
        ("three.csv", "1,2,3\n4,5,6\n", "has 3 columns, not 2"),
        ("words.csv", "x,y\n1,2\na,b\n", "line 3 is not two numbers"),
        ("empty.csv", "", "the drawing is empty"),
        ("shape.npz", {"z": np.zeros((4, 3))}, r"shape \(4, 3\)"),
        ("noz.npz", {"x": np.zeros((4, 2))}, "no array 'z'"),
        ("text.npz", {"z": np.array([["a", "b"]])}, "not numbers"),
        ("huge.npz", {"z": np.zeros((100_000, 2))}, "100,000 points"),
        ("pts.txt", "1,2\n", "must be a .csv"),
    ],
)
def test_bad_points_files_get_one_line_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, dict):
        np.savez(path, **content)
        path = tmp_path / name  # np.savez keeps the .npz name
    else:
        path.write_text(content)
    with pytest.raises(AAEError, match=message) as e:
        read_points_file(path)
    assert name in str(e.value) and "\n" not in str(e.value)


def test_cli_trains_on_a_points_file_and_stores_the_drawing(tmp_path, capsys):
    t = np.linspace(0, 2 * np.pi, 100, endpoint=False)
    np.savetxt(tmp_path / "ring.csv", np.c_[8 * np.cos(t), 8 * np.sin(t)], delimiter=",", header="x,y", comments="")
    out = tmp_path / "ring-aae"
    base = ["--prior", "points", "--dataset", "digits", "--epochs", "1", "--quiet", "--device", "cpu"]
    assert train_main([*base, "--prior-file", str(tmp_path / "ring.csv"), "--spread", "0.3", "--out", str(out)]) == 0
    prior = read_metadata(out)["run_config"].prior
    assert prior.name == "points" and prior.spread == 0.3 and decode(prior.points).n_vertices == 100
    capsys.readouterr()
    assert train_main([*base, "--out", str(tmp_path / "x")]) == 2
    assert "needs a drawing: --prior-file F" in capsys.readouterr().err
    assert train_main([*base[2:], "--prior-file", str(tmp_path / "ring.csv"), "--out", str(tmp_path / "x")]) == 2
    assert "needs --prior points" in capsys.readouterr().err

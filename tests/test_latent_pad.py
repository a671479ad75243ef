"""The latent pad: weight encoding, the shipped JS decoder against torch (under node), fallback, planes, and state."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch import nn

from aae_core.config import AAEError, ModelConfig
from aae_core.models import build_model
from explorer import latent_pad as lp
from explorer import pad_decoder, pad_plane

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "explorer" / "latent_pad.js"
NODE = shutil.which("node") or "/usr/bin/node"

# Imports the shipped latent_pad.js (copied to .mjs so node loads it as an ES module) and decodes a batch.
HARNESS = textwrap.dedent("""
    import { loadDecoder, decode } from "./latent_pad.mjs";
    import { readFileSync, writeFileSync } from "node:fs";
    const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
    const net = loadDecoder(job.spec);
    const width = job.spec.layers.at(-1)[1];
    const out = new Float32Array(job.z.length * width);
    job.z.forEach((z, i) => decode(net, z, out.subarray(i * width, (i + 1) * width)));
    writeFileSync(process.argv[3], Buffer.from(out.buffer));
""")


def random_model(kind="aae", latent=2, hidden=(32, 16), input_dim=49, scale=3.0, seed=0):
    """A model whose decoder weights are scaled up, so its pixels spread over (0, 1) instead of hugging 0.5."""
    torch.manual_seed(seed)
    model = build_model(ModelConfig(kind=kind, input_dim=input_dim, latent_dim=latent, hidden=hidden, disc_hidden=(8,)))
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.mul_(scale)
    return model


def js_decode(spec: dict, z: np.ndarray, tmp_path: Path) -> np.ndarray:
    """Decode rows of z with the shipped latent_pad.js under node."""
    if not Path(NODE).exists():
        pytest.skip("node is not installed")
    shutil.copy(JS, tmp_path / "latent_pad.mjs")
    (tmp_path / "harness.mjs").write_text(HARNESS)
    (tmp_path / "job.json").write_text(json.dumps({"spec": spec, "z": np.asarray(z).tolist()}))
    run = subprocess.run([NODE, "harness.mjs", "job.json", "out.bin"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return np.fromfile(tmp_path / "out.bin", dtype="<f4").reshape(len(z), -1)


def torch_decode(model, z):
    with torch.no_grad():
        return model.decode(torch.as_tensor(z, dtype=torch.float32)).numpy()


# ---------------------------------------------------------------- encoding


def test_encoding_round_trip_is_exact():
    model = random_model(hidden=(7, 5, 3))
    layers = pad_decoder.decode_spec(pad_decoder.encode_decoder(model))
    linears = [m for m in model.decoder if isinstance(m, nn.Linear)]
    assert [w.shape for w, _ in layers] == [(2, 3), (3, 5), (5, 7), (7, 49)]
    for (w, b), lin in zip(layers, linears):
        np.testing.assert_array_equal(w, lin.weight.detach().numpy().T)
        np.testing.assert_array_equal(b, lin.bias.detach().numpy())


def test_decode_spec_refuses_wrong_length():
    spec = pad_decoder.encode_decoder(random_model())
    spec["layers"][-1][1] += 1
    with pytest.raises(AAEError, match="need"):
        pad_decoder.decode_spec(spec)


def test_spec_forward_matches_torch():
    model = random_model()
    z = np.random.default_rng(1).normal(scale=2, size=(64, 2))
    got = pad_decoder.spec_forward(pad_decoder.decode_spec(pad_decoder.encode_decoder(model)), z)
    assert np.abs(got - torch_decode(model, z)).max() < 1e-5


# ---------------------------------------------------------------- the shipped JS against torch


@pytest.mark.parametrize(
    "latent,hidden,input_dim", [(2, (256, 256), 784), (2, (1000, 1000), 784), (5, (64,), 100), (3, (40, 30, 20), 49)]
)
def test_js_decoder_matches_torch(tmp_path, latent, hidden, input_dim):
    model = random_model(latent=latent, hidden=hidden, input_dim=input_dim, scale=2.0 if hidden[0] < 500 else 1.5)
    z = np.random.default_rng(2).normal(scale=2.5, size=(32, latent)).astype(np.float32)
    want = torch_decode(model, z)
    got = js_decode(pad_decoder.browser_decoder(model), z, tmp_path)
    assert want.std() > 0.05, "test decoder too flat to tell decoders apart"
    assert np.abs(got - want).max() <= 1e-3


def test_js_decoder_refuses_truncated_weights(tmp_path):
    spec = pad_decoder.encode_decoder(random_model())
    spec["layers"][0][1] += 1
    with pytest.raises(AssertionError, match="need"):
        js_decode(spec, np.zeros((1, 2)), tmp_path)


def shipped_checkpoints():
    return sorted((ROOT / "checkpoints").glob("*.safetensors"))


@pytest.mark.parametrize("path", shipped_checkpoints(), ids=lambda p: p.name)
def test_js_decoder_matches_torch_on_shipped_checkpoints(tmp_path, path):
    checkpoints = pytest.importorskip("aae_core.checkpoints")
    model = checkpoints.load_checkpoint(path).model
    z = np.random.default_rng(3).normal(scale=2, size=(32, model.config.latent_dim)).astype(np.float32)
    got = js_decode(pad_decoder.browser_decoder(model), z, tmp_path)
    assert np.abs(got - torch_decode(model, z)).max() <= 1e-3


# ---------------------------------------------------------------- when the browser cannot decode


def test_plain_mlp_decoder_runs_in_the_browser():
    spec = pad_decoder.browser_decoder(random_model(kind="vae"))
    assert spec["layers"][0] == [2, 16]  # hidden widths reversed in the decoder


def test_non_mlp_decoder_falls_back():
    model = random_model()
    model.decoder[1] = nn.Tanh()
    with pytest.raises(pad_decoder.UnsupportedDecoder, match="Linear/ReLU"):
        pad_decoder.browser_decoder(model)


def test_overridden_decode_falls_back():
    model = random_model()
    model.decode = lambda z: torch.sigmoid(2 * model.decoder(z))
    with pytest.raises(pad_decoder.UnsupportedDecoder, match="not sigmoid"):
        pad_decoder.browser_decoder(model)


def test_huge_decoder_falls_back():
    model = random_model(hidden=(3000, 2000), input_dim=784, scale=1.0)  # 6.0M + 1.6M + ... > 8M parameters
    with pytest.raises(pad_decoder.UnsupportedDecoder, match="8M"):
        pad_decoder.browser_decoder(model)


# ---------------------------------------------------------------- planes, ranges, neighbours


def test_axes_plane_moves_two_axes_and_holds_the_rest():
    plane = pad_plane.make_plane(np.zeros((10, 4)), "axes", (2, 0), held=[0.5, -1.0])
    z = plane.latent(np.array([[3.0, 4.0]]))[0]
    np.testing.assert_allclose(z, [4.0, 0.5, 3.0, -1.0])  # x -> z3, y -> z1, held z2, z4
    assert plane.axis_names == ("z3", "z1"), "1-based, as on the scatters and in the CSV export"
    np.testing.assert_allclose(plane.project(z[None])[0], [3.0, 4.0])


def test_pca_plane_spans_the_codes_main_directions():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(500, 3)) * [5.0, 0.1, 1.0] + [1.0, 2.0, 3.0]
    plane = pad_plane.make_plane(codes, "pca", held=[0.0])
    np.testing.assert_allclose(plane.basis.T @ plane.basis, np.eye(3), atol=1e-12)
    assert abs(plane.basis[0, 0]) > 0.99 and abs(plane.basis[2, 1]) > 0.99
    xy = np.array([[1.5, -0.5]])
    np.testing.assert_allclose(plane.project(plane.latent(xy)), xy, atol=1e-12)


def test_bad_plane_is_refused():
    with pytest.raises(AAEError, match="different axes"):
        pad_plane.make_plane(np.zeros((5, 3)), "axes", (1, 1), held=[0.0])
    with pytest.raises(AAEError, match="needs 1"):
        pad_plane.make_plane(np.zeros((5, 3)), "axes", (0, 1))


def test_pad_range_is_square_and_sticky():
    pts = np.random.default_rng(0).normal(size=(1000, 2)) * [1.0, 3.0]
    x0, x1, y0, y1 = pad_plane.pad_range([pts])
    assert x1 - x0 == pytest.approx(y1 - y0) and x0 < pts[:, 0].min() / 2
    assert pad_plane.pad_range([pts * 1.05], [x0, x1, y0, y1]) == [x0, x1, y0, y1]
    assert pad_plane.pad_range([pts * 2], [x0, x1, y0, y1]) != [x0, x1, y0, y1]


def test_pad_range_ignores_diverged_codes():
    pts = np.array([[0.0, 0.0], [1.0, 1.0], [np.nan, 2.0], [np.inf, 0.0]])
    assert np.isfinite(pad_plane.pad_range([pts])).all()


def test_nearest_orders_by_code_distance():
    idx, dist = lp.nearest(np.array([[0.0, 0.0], [3.0, 0.0], [1.0, 0.0], [0.0, 2.0]]), np.array([0.9, 0.0]), k=3)
    assert idx.tolist() == [2, 0, 1] and dist[0] == pytest.approx(0.1)


# ---------------------------------------------------------------- the render function under AppTest

PAGE = """
import numpy as np, streamlit as st, torch
from torch import nn
from aae_core.config import ModelConfig
from aae_core.models import build_model
from explorer.latent_pad import latent_pad
torch.manual_seed(0)
dim = st.session_state.get("dim", 2)
models = {k.upper(): build_model(ModelConfig(kind=k, input_dim=16, latent_dim=dim, hidden=(8,), disc_hidden=(8,)))
          for k in ("aae", "vae")}
if st.session_state.get("broken_vae"):
    models["VAE"].decoder[1] = nn.Tanh()
rng = np.random.default_rng(0)
codes = {k: rng.normal(size=(30, dim)) * np.arange(dim, 0, -1) for k in models}
train = rng.uniform(size=(20, 16))
st.session_state["result"] = latent_pad(
    models, codes, rng.integers(0, 3, 30), rng.normal(size=(40, dim)), (4, 4), st.session_state.get("version", "v1"),
    key="pad", train_codes={k: rng.normal(size=(20, dim)) for k in models}, train_images=train)
"""


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    (tmp_path / "page.py").write_text(PAGE)
    return AppTest.from_file(str(tmp_path / "page.py"), default_timeout=30)


def pad_data(at) -> dict:
    (element,) = at.get("bidi_component")
    return json.loads(element.proto.json)


def test_weights_are_sent_once_per_version(app):
    app.run()
    assert not app.exception
    assert all("spec" in m["decoder"] for m in pad_data(app)["models"])
    app.run()
    assert [m["decoder"] for m in pad_data(app)["models"]] == [{"version": "v1"}] * 2
    app.session_state["version"] = "v2"
    app.run()
    assert all(m["decoder"]["version"] == "v2" and "spec" in m["decoder"] for m in pad_data(app)["models"])


def test_released_point_is_decoded_on_the_server(app):
    app.run()
    assert app.session_state["result"] is None
    app.session_state["pad"] = {
        "pad": {
            "point": {"AAE": [0.5, -1.0], "VAE": [0.25, 2.0]},
            "linked": False,
            "pins": [{"AAE": [0.0, 0.0], "VAE": [1.0, 1.0]}],
        }
    }
    app.run()
    assert not app.exception
    state = app.session_state["result"]
    np.testing.assert_allclose(state.z["VAE"], [0.25, 2.0])
    assert state.linked is False and len(state.pins) == 1
    shown = " | ".join(m.value for m in app.markdown)
    assert "**AAE** at z = (0.500, -1.000)" in shown and "**VAE** at z = (0.250, 2.000)" in shown
    assert pad_data(app)["state"]["point"]["AAE"] == [0.5, -1.0]  # echoed, so a remounted pad restores it


def test_unsupported_decoder_is_decoded_on_the_server(app):
    app.session_state["broken_vae"] = True
    app.session_state["pad"] = {
        "pad": {
            "point": {"AAE": [0.5, -1.0], "VAE": [0.5, -1.0]},
            "path": ["pin:0", "point"],
            "pins": [{"AAE": [0.0, 0.0], "VAE": [1.0, 1.0]}],
        }
    }
    app.run()
    aae, vae = pad_data(app)["models"]
    assert aae["fallback"] is None and aae["server"] is None
    assert vae["decoder"] is None and "Linear/ReLU" in vae["fallback"]
    assert vae["server"]["point"].startswith("data:image/png;base64,") and len(vae["server"]["pins"]) == 1
    assert vae["server"]["path"].startswith("data:image/png;base64,")


def test_large_weights_are_held_back_while_versions_race():
    model = random_model(hidden=(1000, 1000), input_dim=784, scale=1.0)  # 9.5 MB on the wire
    first, _, record = lp._decoder_payload(model, "step-1", None, now=100.0)
    assert "spec" in first
    held, _, same = lp._decoder_payload(model, "step-2", record, now=101.0)
    assert held == {"version": "step-1", "newer_in": pytest.approx(9_530_000 / lp.WEIGHT_BYTES_PER_S - 1, rel=0.01)}
    assert same == record
    later, _, newer = lp._decoder_payload(model, "step-2", record, now=106.0)
    assert "spec" in later and newer[0] == "step-2"


def test_higher_dim_pad_moves_a_chosen_plane(app):
    app.session_state["dim"] = 4
    app.session_state["pad"] = {"pad": {"point": {"AAE": [1.0, 2.0], "VAE": [1.0, 2.0]}}}
    app.run()
    app.selectbox(key="pad-x").select(3).run()
    assert app.selectbox(key="pad-x").options == ["z1", "z2", "z3", "z4"]
    app.number_input(key="pad-held-z3").set_value(0.7).run()
    assert not app.exception
    plane = pad_data(app)["models"][0]["plane"]
    assert plane == {"origin": [0.0, 0.0, 0.7, 0.0], "u": [0.0, 0.0, 0.0, 1.0], "v": [0.0, 1.0, 0.0, 0.0]}
    # x drives z4, y drives z2, z1 and z3 stay at their held values
    np.testing.assert_allclose(app.session_state["result"].z["AAE"], [0.0, 2.0, 0.7, 1.0])

    app.radio(key="pad-plane").set_value("pca")
    app.run()
    aae = pad_data(app)["models"][0]["plane"]
    u, v = np.array(aae["u"]), np.array(aae["v"])
    assert abs(u @ v) < 1e-9 and abs(u[0]) > 0.9  # codes spread most along z1, then z2
    np.testing.assert_allclose(app.session_state["result"].z["AAE"], np.array(aae["origin"]) + 1.0 * u + 2.0 * v)

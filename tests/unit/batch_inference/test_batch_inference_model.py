"""The npz-mlp/1 artifact: the shipped model, the loader's checks, training reproducibility."""

from __future__ import annotations

import io

import datagen
import model_format
import numpy as np
import pytest
import train_model


def test_the_shipped_model_loads_and_predicts_probabilities() -> None:
    model = model_format.loads(train_model.SHIPPED.read_bytes())
    assert model.features == datagen.FEATURES
    assert model.activations == ["relu", "sigmoid"]
    frame = datagen.customers(500, seed=3)
    p = model.predict(frame[model.features].to_numpy(float))
    assert p.shape == (500,) and np.all((p > 0) & (p < 1))
    assert model.training["test_auc"] > 0.8  # it learned the rule, it is not a random net


def test_predict_is_the_documented_formula() -> None:
    model = model_format.loads(train_model.SHIPPED.read_bytes())
    x = datagen.customers(50, seed=9)[model.features].to_numpy(float)
    h = np.maximum(((x - model.mean) / model.scale) @ model.weights[0] + model.biases[0], 0)
    expected = 1 / (1 + np.exp(-(h @ model.weights[1] + model.biases[1])[:, 0]))
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-12)


@pytest.mark.slow
def test_training_again_gives_the_shipped_model() -> None:
    shipped = model_format.loads(train_model.SHIPPED.read_bytes())
    again = train_model.train()
    x = datagen.customers(200, seed=11)[shipped.features].to_numpy(float)
    np.testing.assert_allclose(again.predict(x), shipped.predict(x), rtol=1e-9)
    assert again.training == shipped.training


def test_round_trip_through_bytes() -> None:
    model = model_format.loads(train_model.SHIPPED.read_bytes())
    again = model_format.loads(model_format.dumps(model))
    for a, b in zip(model.weights + model.biases, again.weights + again.biases, strict=True):
        np.testing.assert_array_equal(a, b)
    assert again.spec() == model.spec()


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.mark.parametrize(("data", "message"), [
    (b"not a zip", "not an npz archive"),
    (_npz(mean=np.zeros(2)), "no JSON 'spec'"),
    (_npz(spec=np.array('{"format": "other"}')), "spec.format"),
    (_npz(spec=np.array(np.array([{"a": 1}], dtype=object))), "not an npz archive"),
    (_npz(spec=np.array('{"format": "npz-mlp/1", "features": ["a"], "activations": '
                        '["relu"]}'), mean=np.zeros(1), scale=np.ones(1),
          W0=np.zeros((2, 1)), b0=np.zeros(1)), "layer 0"),
    (_npz(spec=np.array('{"format": "npz-mlp/1", "features": ["a"], "activations": '
                        '["relu"]}'), mean=np.zeros(1), scale=np.ones(1),
          W0=np.zeros((1, 3)), b0=np.zeros(3)), "one output unit"),
    (_npz(spec=np.array('{"format": "npz-mlp/1", "features": ["a"], "activations": '
                        '["softmax"]}')), "spec.activations"),
])
def test_bad_artifacts_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(model_format.ModelError, match=message.replace("(", r"\(")):
        model_format.loads(data)

"""fast_dropout: the C Bernoulli draw gives PyTorch's own masks and generator state, so Dropout trains bit for bit
as nn.Dropout does; anything it cannot take falls back to PyTorch's path."""
import shutil

import pytest
import torch
import torch.nn as nn

from edgeinfer_distill import fast_dropout as fd
from edgeinfer_distill.models import FrameTransformer


def test_the_fast_path_is_on_where_a_c_compiler_is():
    if shutil.which("cc") or shutil.which("gcc") or shutil.which("clang"):
        assert fd.available(), fd._why_not
    else:
        assert not fd.available()


@pytest.mark.parametrize("seed_draws", [0, 5, 623, 624, 1000])
@pytest.mark.parametrize("n,p", [(1, 0.9), (311, 0.9), (624, 0.5), (5000, 0.9), (70000, 0.123456789), (4, 0.0), (4, 1.0)])
def test_c_fill_equals_torch_bernoulli_and_leaves_the_same_generator_state(seed_draws, n, p):
    """From a fresh seed (the state that regenerates on its first draw) and from every kind of position in a block."""
    if not fd.available():
        pytest.skip("no C compiler: the fallback is PyTorch's own draw")
    torch.manual_seed(7)
    if seed_draws:
        torch.randint(0, 10, (seed_draws,))  # one 32-bit word each
    start = torch.get_rng_state()
    expected = torch.empty(n).bernoulli_(p)
    after = torch.get_rng_state()
    torch.set_rng_state(start)
    got = fd.bernoulli_(torch.empty(n), p)
    assert torch.equal(got, expected)
    assert torch.equal(torch.get_rng_state(), after)
    assert torch.equal(torch.rand(3), (torch.set_rng_state(after), torch.rand(3))[1])


def test_c_fill_refuses_a_probability_outside_0_1():
    if not fd.available():
        pytest.skip("no C compiler")
    with pytest.raises(RuntimeError, match="refused"):
        fd._c_fill(torch.get_rng_state(), torch.empty(3), 1.5)


def _train_steps(dropout_class, steps=3):
    torch.manual_seed(3)
    model = FrameTransformer(frames=8, classes=5, dim=32, layers=2, heads=2, ff=64, dropout=0.1)
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.Dropout):
                setattr(module, child_name, dropout_class(child.p))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x, y = torch.randn(16, 8, 96), torch.randint(0, 5, (16,))
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()], torch.get_rng_state()


def test_a_transformer_trains_bit_for_bit_as_with_nn_dropout():
    ours, our_state = _train_steps(fd.Dropout)
    theirs, their_state = _train_steps(nn.Dropout)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    assert torch.equal(our_state, their_state)


@pytest.mark.parametrize("make", [lambda: torch.randn(6, 40).t(),  # not contiguous: PyTorch's path
                                  lambda: torch.randn(6, 40, dtype=torch.float64),  # not float32
                                  lambda: torch.randn(0, 3)])
def test_what_the_fast_path_does_not_take_falls_back_with_the_same_result(make):
    x = make()
    torch.manual_seed(11)
    expected = nn.Dropout(0.3).train()(x)
    torch.manual_seed(11)
    assert torch.equal(fd.Dropout(0.3).train()(x), expected)


def test_eval_mode_and_the_fallback_switch(monkeypatch):
    x = torch.randn(4, 50)
    assert torch.equal(fd.Dropout(0.5).eval()(x), x)
    monkeypatch.setattr(fd, "_fill", False)  # as when no compiler: PyTorch's draw
    torch.manual_seed(2)
    a = fd.Dropout(0.5).train()(x)
    torch.manual_seed(2)
    assert torch.equal(a, nn.Dropout(0.5).train()(x))

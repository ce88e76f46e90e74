import math

import pytest
import torch

from edgeinfer_distill.losses import (
    DistillLoss,
    FeatureAlignment,
    distillation_loss,
    kl_divergence,
    soft_target_loss,
    topk_compress,
)


def softmax(xs, t=1.0):
    m = max(xs)
    e = [math.exp((x - m) / t) for x in xs]
    s = sum(e)
    return [v / s for v in e]


def kl(p, q):
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q) if pi > 0)


def test_kl_hand_computed_forward_and_reverse():
    s, t = [1.0, 2.0, 3.0], [3.0, 2.0, 0.5]
    for temp in (1.0, 2.0, 4.0):
        ps, pt = softmax(s, temp), softmax(t, temp)
        got_f = kl_divergence(torch.tensor([t], dtype=torch.float64), torch.tensor([s], dtype=torch.float64), temp, "forward").item()
        got_r = kl_divergence(torch.tensor([t], dtype=torch.float64), torch.tensor([s], dtype=torch.float64), temp, "reverse").item()
        assert got_f == pytest.approx(kl(pt, ps), rel=1e-12)
        assert got_r == pytest.approx(kl(ps, pt), rel=1e-12)


def test_full_objective_hand_computed():
    s = [[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]]
    t = [[1.0, 0.0, 1.5], [2.0, -1.0, 0.0]]
    y = [2, 0]
    alpha, temp = 0.3, 2.0
    ce = sum(-math.log(softmax(row)[c]) for row, c in zip(s, y)) / 2
    kd = sum(kl(softmax(tr, temp), softmax(sr, temp)) for sr, tr in zip(s, t)) / 2
    want = alpha * ce + (1 - alpha) * temp**2 * kd
    S = torch.tensor(s, dtype=torch.float64)
    T = torch.tensor(t, dtype=torch.float64)
    Y = torch.tensor(y)
    got, terms = distillation_loss(S, Y, T, alpha=alpha, temperature=temp)
    assert got.item() == pytest.approx(want, rel=1e-12)
    assert terms["ce"] == pytest.approx(ce, rel=1e-12)
    got2, _ = DistillLoss(alpha=alpha, temperature=temp, weights={"ce": 1.0, "kd": 1.0})(S, Y, T)
    assert got2.item() == pytest.approx(want, rel=1e-12)
    # weights per term
    got3, _ = DistillLoss(alpha=alpha, temperature=temp, weights={"ce": 2.0, "kd": 0.5})(S, Y, T)
    assert got3.item() == pytest.approx(2 * alpha * ce + 0.5 * (1 - alpha) * temp**2 * kd, rel=1e-12)


def test_unlabelled_rows_get_soft_term_only():
    S = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]], dtype=torch.float64)
    T = torch.tensor([[1.0, 0.0, 1.5], [2.0, -1.0, 0.0]], dtype=torch.float64)
    Y = torch.tensor([2, -100])
    got, _ = distillation_loss(S, Y, T, alpha=0.5, temperature=1.0)
    ce = -math.log(softmax([0.5, -1.0, 2.0])[2])
    kd = (kl(softmax(T[0].tolist()), softmax(S[0].tolist())) + kl(softmax(T[1].tolist()), softmax(S[1].tolist()))) / 2
    assert got.item() == pytest.approx(0.5 * ce + 0.5 * kd, rel=1e-12)


def test_large_logits_are_stable():
    big = torch.tensor([[1e4, 0.0, -1e4], [3e4, 3e4 - 5, 0.0]], dtype=torch.float32, requires_grad=True)
    teacher = torch.tensor([[9e3, 10.0, -2e4], [3e4, 3e4 - 1, 0.0]])
    for direction in ("forward", "reverse"):
        loss = soft_target_loss(big, teacher, temperature=4.0, direction=direction)
        assert torch.isfinite(loss)
        (g,) = torch.autograd.grad(loss, big)
        assert torch.isfinite(g).all()
    # shifting all logits by a constant changes nothing
    a = kl_divergence(teacher, big.detach(), 2.0)
    b = kl_divergence(teacher + 1e5, big.detach() - 1e5, 2.0)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_masked_minus_inf_entries():
    ninf = float("-inf")
    s = torch.tensor([[1.0, ninf, 0.0, 2.0]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([[0.5, ninf, ninf, 1.0]], dtype=torch.float64)
    # forward: entries where the teacher has no mass contribute 0
    got = kl_divergence(t, s, 1.0, "forward")
    ps, pt = softmax([1.0, 0.0, 2.0]), softmax([0.5, -1e300, 1.0])
    want = pt[0] * math.log(pt[0] / ps[0]) + pt[2] * math.log(pt[2] / ps[2])
    assert got.item() == pytest.approx(want, rel=1e-12)
    (g,) = torch.autograd.grad(got.sum(), s)
    assert torch.isfinite(g).all()
    # reverse: the student puts mass where the teacher has none -> infinite
    assert math.isinf(kl_divergence(t, s.detach(), 1.0, "reverse").item())


def test_gradcheck_float64():
    torch.manual_seed(0)
    s = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    t = torch.randn(3, 5, dtype=torch.float64)
    y = torch.tensor([1, 4, -100])
    for direction in ("forward", "reverse"):
        f = lambda x: distillation_loss(x, y, t, alpha=0.4, temperature=3.0, direction=direction)[0]
        assert torch.autograd.gradcheck(f, (s,), eps=1e-6, atol=1e-7)
    k = topk_compress(t, 3, temperature=2.0)
    assert torch.autograd.gradcheck(lambda x: soft_target_loss(x, k, 2.0), (s,), eps=1e-6, atol=1e-7)


def test_finite_differences_by_hand():
    s = torch.tensor([[0.3, -0.2, 1.1, 0.0]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([[1.0, 0.5, -0.5, 0.2]], dtype=torch.float64)
    loss = soft_target_loss(s, t, 2.0)
    (g,) = torch.autograd.grad(loss, s)
    h = 1e-6
    for i in range(4):
        plus, minus = s.detach().clone(), s.detach().clone()
        plus[0, i] += h
        minus[0, i] -= h
        fd = (soft_target_loss(plus, t, 2.0) - soft_target_loss(minus, t, 2.0)).item() / (2 * h)
        assert g[0, i].item() == pytest.approx(fd, abs=1e-8)
    # closed form for the forward KL with T^2: dL/dz_s = T * (p_S^T - p_T^T)
    want = 2.0 * (torch.softmax(s.detach() / 2, -1) - torch.softmax(t / 2, -1))
    torch.testing.assert_close(g, want, rtol=1e-10, atol=1e-12)


def test_topk_equals_full_when_k_is_vocab_and_bucket_math():
    torch.manual_seed(1)
    s = torch.randn(4, 7, 11, dtype=torch.float64)
    t = torch.randn(4, 7, 11, dtype=torch.float64) * 3
    full = soft_target_loss(s, t, 2.0)
    k = topk_compress(t, 11, temperature=2.0)
    assert torch.isneginf(k.tail_lse).all()
    torch.testing.assert_close(soft_target_loss(s, k, 2.0), full)
    # k < V: KL over the k kept entries + one tail bucket, by hand for one row
    row_s, row_t = s[0, 0].tolist(), t[0, 0].tolist()
    k3 = topk_compress(t[:1, :1], 3, temperature=2.0)
    kept = k3.indices[0, 0].tolist()
    pt, ps = softmax(row_t, 2.0), softmax(row_s, 2.0)
    bt = [pt[i] for i in kept] + [1 - sum(pt[i] for i in kept)]
    bs = [ps[i] for i in kept] + [1 - sum(ps[i] for i in kept)]
    got = soft_target_loss(s[:1, :1], k3, 2.0).item()
    assert got == pytest.approx(4.0 * kl(bt, bs), rel=1e-10)
    # a lower bound of the full KL
    assert got <= 4.0 * kl(pt, ps) + 1e-12


def test_feature_alignment_cosine_mse_projection():
    torch.manual_seed(2)
    align = FeatureAlignment([4, 6], [6, 6], kind="mse", weights=[1.0, 0.5])
    assert isinstance(align.projections[0], torch.nn.Linear) and isinstance(align.projections[1], torch.nn.Identity)
    hs = [torch.randn(2, 3, 4), torch.randn(2, 3, 6)]
    ht = [torch.randn(2, 3, 6), torch.randn(2, 3, 6)]
    got = align(hs, ht)
    want = ((align.projections[0](hs[0]) - ht[0]) ** 2).mean() + 0.5 * ((hs[1] - ht[1]) ** 2).mean()
    torch.testing.assert_close(got, want)
    cos = FeatureAlignment([6], [6], kind="cosine")
    x = torch.randn(5, 6)
    assert cos([x], [3 * x]).item() == pytest.approx(0.0, abs=1e-6)
    assert cos([x], [-x]).item() == pytest.approx(2.0, abs=1e-6)
    # gradients reach the projection, not the teacher
    t = torch.randn(2, 3, 6, requires_grad=True)
    align([hs[0], hs[1]], [t, t]).backward()
    assert t.grad is None and align.projections[0].weight.grad is not None


def test_gradcheck_alignment_float64():
    torch.manual_seed(3)
    align = FeatureAlignment([3], [5], kind="cosine").double()
    t = torch.randn(2, 4, 5, dtype=torch.float64)
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: align([v], [t]), (x,), eps=1e-6, atol=1e-7)

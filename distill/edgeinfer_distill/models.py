"""The experiments' models.

Voice (input [B, F, 96] openWakeWord embeddings, output class logits; exported with softmax in the graph):
- `FrameTransformer`: the teacher, a pre-norm transformer encoder over the F frames (learned positions),
  mean-pooled, then a linear classifier.
- `ConvHead`: the student, small enough for a smart speaker: two 1-D convolutions over time (the first
  reads 3 frames, the second 3 more with stride 2), ReLU, mean over time, linear classifier. ~10-60 K params.

Text (input int64 token ids [B, L], right-padded; output intent logits):
- `DecoderClassifier`: a Hugging Face decoder-only transformer (LlamaConfig: grouped-query attention,
  rotary embeddings, RMSNorm, SwiGLU) whose hidden state at the last real token is classified by a linear
  `score` layer. Causal attention means padding after the last real token cannot change that token's state,
  so no attention mask is needed: the graph takes only `input_ids`, computes the last real token's position
  in-graph ((input_ids != pad).sum - 1) and gathers it. The same backbone carries a tied LM head for the
  teacher's language-model pretraining on unlabelled text.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .fast_dropout import Dropout  # nn.Dropout's numbers, drawn faster on non-Intel CPUs


# ----------------------------------------------------------------------------------------------- voice
class SelfAttention(nn.Module):
    """Multi-head self-attention from plain Linear layers (exports as MatMul / Softmax; torch's
    nn.MultiheadAttention takes a fused fast path in eval mode that the ONNX exporter does not know)."""

    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        if d % heads:
            raise ValueError("dim must be a multiple of heads")
        self.heads, self.head_dim = heads, d // heads
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(d, d) for _ in range(4))
        self.drop = Dropout(dropout)

    def forward(self, x):
        b, t, d = x.shape
        split = lambda y: y.view(b, t, self.heads, self.head_dim).transpose(1, 2)
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        w = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim), dim=-1)
        h = torch.matmul(self.drop(w), v).transpose(1, 2).reshape(b, t, d)
        return self.o_proj(h)


class _Block(nn.Module):
    def __init__(self, d: int, heads: int, ff: int, dropout: float):
        super().__init__()
        self.n1 = nn.LayerNorm(d)
        self.attn = SelfAttention(d, heads, dropout)
        self.n2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), Dropout(dropout), nn.Linear(ff, d))
        self.drop = Dropout(dropout)

    def forward(self, x):
        h = self.n1(x)
        x = x + self.drop(self.attn(h))
        return x + self.drop(self.ff(self.n2(x)))


class FrameTransformer(nn.Module):
    def __init__(self, frames: int, classes: int, dim: int = 128, layers: int = 4, heads: int = 4, ff: int = 256, dropout: float = 0.1, in_dim: int = 96):
        super().__init__()
        self.inp = nn.Linear(in_dim, dim)
        self.pos = nn.Parameter(torch.zeros(1, frames, dim))
        nn.init.normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(_Block(dim, heads, ff, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)
        self.drop = Dropout(dropout)

    def features(self, x):
        h = self.drop(self.inp(x) + self.pos[:, : x.shape[1]])
        states = []
        for b in self.blocks:
            h = b(h)
            states.append(h)
        return self.norm(h), states

    def forward(self, x):
        h, _ = self.features(x)
        return self.head(h.mean(dim=1))

    def forward_features(self, x):
        """(logits, the pooled representation the classifier reads)."""
        h, _ = self.features(x)
        pooled = h.mean(dim=1)
        return self.head(pooled), pooled


class ConvHead(nn.Module):
    def __init__(self, classes: int, width: int = 48, in_dim: int = 96, dropout: float = 0.1):
        super().__init__()
        self.conv1 = nn.Conv1d(in_dim, width, 3, padding=1)
        self.conv2 = nn.Conv1d(width, width, 3, stride=2, padding=1)
        self.drop = Dropout(dropout)
        self.classifier = nn.Linear(width, classes)
        self.width = width

    def features(self, x):
        h = F.relu(self.conv1(x.transpose(1, 2)))
        h = F.relu(self.conv2(h))
        return h.transpose(1, 2)  # [B, F', width]

    def forward(self, x):
        return self.classifier(self.drop(self.features(x).mean(dim=1)))

    def forward_features(self, x):
        pooled = self.features(x).mean(dim=1)
        return self.classifier(self.drop(pooled)), pooled


class WithSoftmax(nn.Module):
    """The export form of a classifier for the CommandStage contract: class probabilities, softmax in the graph."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return torch.softmax(self.model(x), dim=-1)


# ----------------------------------------------------------------------------------------------- text
def llama_config(vocab: int, hidden: int, layers: int, heads: int, kv_heads: int, intermediate: int, max_len: int, pad_id: int, dropout: float = 0.0):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
                       num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=max_len,
                       rms_norm_eps=1e-5, rope_theta=10000.0, attention_dropout=dropout, pad_token_id=pad_id,
                       bos_token_id=None, eos_token_id=None, tie_word_embeddings=True, attn_implementation="eager")


class DecoderClassifier(nn.Module):
    def __init__(self, config, classes: int, pad_id: int, dropout: float = 0.1):
        super().__init__()
        from transformers import LlamaModel

        self.config = config
        self.pad_id = pad_id
        self.backbone = LlamaModel(config)
        self.drop = Dropout(dropout)
        self.score = nn.Linear(config.hidden_size, classes, bias=False)
        n = config.max_position_embeddings
        self.register_buffer("causal_mask", torch.full((n, n), torch.finfo(torch.float32).min).triu(1)[None, None], persistent=False)

    def hidden(self, input_ids: torch.Tensor, output_hidden_states: bool = False):
        # An explicit additive causal mask [1, 1, L, L] (0 on and below the diagonal): Hugging Face takes a 4-D mask
        # as is, so the exported graph holds one constant instead of the mask-building (and packed-sequence
        # detection) code; padding needs no mask (see the module docstring).
        length = input_ids.shape[1]
        mask = self.causal_mask[:, :, :length, :length]
        return self.backbone(input_ids=input_ids, attention_mask=mask, use_cache=False, output_hidden_states=output_hidden_states)

    def pool(self, h: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        last = ((input_ids != self.pad_id).sum(dim=1) - 1).clamp_min(0)
        index = last.view(-1, 1, 1).expand(-1, 1, h.shape[-1])
        return torch.gather(h, 1, index).squeeze(1)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        h = self.hidden(input_ids).last_hidden_state
        return self.score(self.drop(self.pool(h, input_ids)))

    def forward_features(self, input_ids: torch.Tensor):
        """(logits, the hidden state at the last real token)."""
        pooled = self.pool(self.hidden(input_ids).last_hidden_state, input_ids)
        return self.score(self.drop(pooled)), pooled

    def lm_logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        h = self.hidden(input_ids).last_hidden_state
        return F.linear(h, self.backbone.embed_tokens.weight)

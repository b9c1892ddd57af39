# The `base` pretraining architecture (src/train/pretrain.ts) in PyTorch, timed like bench/train.ts:
# a Gemma 3 decoder (4 layers: 3 sliding-window + 1 global, hidden 256, GeGLU 768, 4 query / 2 kv
# heads of 64, q/k RMS norms, 1 + w RMS norms, sandwich norms, RoPE 10k local / 1M global, scaled
# tied embeddings, vocabulary 1024) and a SigLIP tower (3 layers, hidden 128, MLP 512, 96 px images in
# 12 px patches, average pooling to MM image tokens, projector with soft-embedding norm). Batch 16 x T
# tokens, one image per sequence, cross-entropy on every next token, AdamW step included.
# Usage: train_torch.py THREADS full|lora [T MM WINDOW]   (bench/train.ts passes the preset's values.)
# THREADS is torch's intra-op thread count; OpenBLAS takes its own from OPENBLAS_NUM_THREADS.
# Prints one JSON line, with the process's peak resident memory.
import json, math, resource, sys, time
import torch
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
MODE = sys.argv[2] if len(sys.argv) > 2 else "full"
torch.manual_seed(0)
T, MM, WIN = (int(a) for a in sys.argv[3:6]) if len(sys.argv) > 5 else (256, 64, 128)
V, D, FF, L, H, KV, HD = 1024, 256, 768, 4, 4, 2, 64
VD, VFF, VL, VH, IMG, P = 128, 512, 3, 4, 96, 12
B = 16
LAYER_TYPES = ["sliding", "sliding", "sliding", "full"]
IMG_START, IMG_END = 2, 2 + MM  # [bos, boi, MM image tokens, eoi, text...]


class RMS(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(n))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * (1 + self.w)


class LoraLinear(torch.nn.Module):
    def __init__(self, i, o, lora):
        super().__init__()
        self.base = torch.nn.Linear(i, o, bias=False)
        self.lora = lora
        if lora:
            self.base.weight.requires_grad_(False)
            self.a = torch.nn.Parameter(torch.randn(16, i) * 0.01)
            self.b = torch.nn.Parameter(torch.zeros(o, 16))

    def forward(self, x):
        y = self.base(x)
        if self.lora:
            y = y + (x @ self.a.t() @ self.b.t()) * (32 / 16)
        return y


def rope(x, pos, base):
    inv = 1.0 / (base ** (torch.arange(0, HD, 2, dtype=torch.float32) / HD))
    f = pos[:, None].float() * inv[None, :]
    cos, sin = torch.cat([f.cos(), f.cos()], -1), torch.cat([f.sin(), f.sin()], -1)
    x1, x2 = x[..., : HD // 2], x[..., HD // 2 :]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def mask_for(sliding):
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    ok = j <= i
    if sliding:
        ok = ok & (i - j < WIN)
    img = (i >= IMG_START) & (i < IMG_END) & (j >= IMG_START) & (j < IMG_END)
    ok = ok | img
    return torch.where(ok, 0.0, float("-inf"))


class Layer(torch.nn.Module):
    def __init__(self, sliding, lora):
        super().__init__()
        self.sliding = sliding
        self.n1, self.n2, self.n3, self.n4, self.qn, self.kn = RMS(D), RMS(D), RMS(D), RMS(D), RMS(HD), RMS(HD)
        self.q, self.k, self.v, self.o = LoraLinear(D, H * HD, lora), LoraLinear(D, KV * HD, lora), LoraLinear(D, KV * HD, lora), LoraLinear(H * HD, D, lora)
        self.gate, self.up, self.down = LoraLinear(D, FF, lora), LoraLinear(D, FF, lora), LoraLinear(FF, D, lora)
        self.register_buffer("mask", mask_for(sliding))

    def forward(self, x, pos):
        h = self.n1(x)
        q = self.qn(self.q(h).view(B, T, H, HD)).transpose(1, 2)
        k = self.kn(self.k(h).view(B, T, KV, HD)).transpose(1, 2)
        v = self.v(h).view(B, T, KV, HD).transpose(1, 2)
        base = 10_000.0 if self.sliding else 1_000_000.0
        q, k = rope(q, pos, base), rope(k, pos, base)
        k = k.repeat_interleave(H // KV, 1)
        v = v.repeat_interleave(H // KV, 1)
        s = q @ k.transpose(-1, -2) / math.sqrt(HD) + self.mask
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * HD)
        x = x + self.n2(self.o(a))
        h = self.n3(x)
        return x + self.n4(self.down(F.gelu(self.gate(h), approximate="tanh") * self.up(h)))


class VisionLayer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = torch.nn.LayerNorm(VD, eps=1e-6), torch.nn.LayerNorm(VD, eps=1e-6)
        self.q, self.k, self.v, self.o = (torch.nn.Linear(VD, VD) for _ in range(4))
        self.fc1, self.fc2 = torch.nn.Linear(VD, VFF), torch.nn.Linear(VFF, VD)

    def forward(self, x):
        n = x.shape[1]
        h = self.ln1(x)
        q, k, v = (m(h).view(B, n, VH, VD // VH).transpose(1, 2) for m in (self.q, self.k, self.v))
        a = ((q @ k.transpose(-1, -2)) / math.sqrt(VD // VH)).softmax(-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(B, n, VD))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class Model(torch.nn.Module):
    def __init__(self, lora):
        super().__init__()
        self.embed = torch.nn.Parameter(torch.randn(V, D) * 0.02)
        self.layers = torch.nn.ModuleList(Layer(t == "sliding", lora) for t in LAYER_TYPES)
        self.norm = RMS(D)
        self.patch = torch.nn.Conv2d(3, VD, P, P)
        self.pos = torch.nn.Parameter(torch.randn((IMG // P) ** 2, VD) * 0.02)
        self.vlayers = torch.nn.ModuleList(VisionLayer() for _ in range(VL))
        self.post = torch.nn.LayerNorm(VD, eps=1e-6)
        self.mm_norm = RMS(VD)
        self.mm_proj = torch.nn.Parameter(torch.randn(VD, D) * 0.02)
        if lora:
            for p in [self.embed, self.pos, self.mm_proj, *self.norm.parameters(), *self.patch.parameters(), *self.vlayers.parameters(), *self.post.parameters(), *self.mm_norm.parameters()]:
                p.requires_grad_(False)
            for l in self.layers:
                for m in (l.n1, l.n2, l.n3, l.n4, l.qn, l.kn):
                    m.w.requires_grad_(False)

    def forward(self, ids, pixels):
        v = self.patch(pixels).flatten(2).transpose(1, 2) + self.pos
        for l in self.vlayers:
            v = l(v)
        v = self.post(v)
        side = IMG // P
        v = v.transpose(1, 2).reshape(B, VD, side, side)
        v = F.avg_pool2d(v, side // int(math.sqrt(MM))).flatten(2).transpose(1, 2)
        img = self.mm_norm(v) @ self.mm_proj
        x = F.embedding(ids, self.embed) * math.sqrt(D)
        x = torch.cat([x[:, :IMG_START], img, x[:, IMG_END:]], 1)
        pos = torch.arange(T)
        for l in self.layers:
            x = l(x, pos)
        return self.norm(x) @ self.embed.t()


model = Model(MODE == "lora")
params = [p for p in model.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
ids = torch.randint(9, V, (B, T))
pixels = torch.rand(B, 3, IMG, IMG) * 2 - 1


def step():
    opt.zero_grad(set_to_none=False)
    logits = model(ids, pixels)
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
    loss.backward()
    opt.step()
    return loss.item()


for _ in range(3):
    step()
times = []
for _ in range(10):
    t0 = time.perf_counter()
    step()
    times.append((time.perf_counter() - t0) * 1000)
times.sort()
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "mode": MODE, "trainable": sum(p.numel() for p in params), "median_ms": times[len(times) // 2], "min_ms": times[0], "max_ms": times[-1], "peak_rss_mib": peak_mib}))

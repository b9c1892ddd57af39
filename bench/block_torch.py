# The DESIGN.md §6 reference block in PyTorch, timed like bench/block.ts: 2 pre-LN layers, d=256,
# 4 heads, FFN 1024 (tanh GELU), causal attention without RoPE, q/k/v/o without bias, MLP with bias,
# seq 128, batch 8, MSE loss; forward + backward per step. Prints one JSON line.
import json, math, sys, time
import torch
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
torch.manual_seed(0)
D, H, FF, T, B, L = 256, 4, 1024, 128, 8, 2

class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = torch.nn.LayerNorm(D)
        self.ln2 = torch.nn.LayerNorm(D)
        self.q = torch.nn.Linear(D, D, bias=False)
        self.k = torch.nn.Linear(D, D, bias=False)
        self.v = torch.nn.Linear(D, D, bias=False)
        self.o = torch.nn.Linear(D, D, bias=False)
        self.up = torch.nn.Linear(D, FF)
        self.down = torch.nn.Linear(FF, D)
        self.register_buffer("mask", torch.full((T, T), float("-inf")).triu(1))

    def forward(self, x):
        h = self.ln1(x)
        q = self.q(h).view(B, T, H, D // H).transpose(1, 2)
        k = self.k(h).view(B, T, H, D // H).transpose(1, 2)
        v = self.v(h).view(B, T, H, D // H).transpose(1, 2)
        s = q @ k.transpose(-1, -2) / math.sqrt(D // H) + self.mask
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.o(a)
        return x + self.down(F.gelu(self.up(self.ln2(x)), approximate="tanh"))

model = torch.nn.Sequential(*[Block() for _ in range(L)])
x = torch.randn(B, T, D)
y = torch.randn(B, T, D)

def step():
    model.zero_grad(set_to_none=False)
    loss = F.mse_loss(model(x), y)
    loss.backward()
    return loss.item()

for _ in range(5):
    step()
times = []
for _ in range(30):
    t0 = time.perf_counter()
    step()
    times.append((time.perf_counter() - t0) * 1000)
times.sort()
import os, re
m = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
blas = "BLAS_INFO=%s, libblas.so.3 -> %s" % (m.group(1) if m else "?", os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3"))
print(json.dumps({"blas": blas, "torch": torch.__version__, "threads": torch.get_num_threads(), "median_ms": times[len(times) // 2], "min_ms": times[0]}))

"""Experiment (candidate 9 of issue 13, not shipped): a one-hidden-layer harm readout.

    python scripts/fit_probe_mlp.py --seed 0 --out /tmp/s31/a0.npz              # 9a
    python scripts/fit_probe_mlp.py --seed 0 --acts 600 --out /tmp/s31/b0.npz   # 9b
    python scripts/score_probe_mlp.py /tmp/s31/a0.npz -1.0,-0.7,-0.4,-0.1,0.2,0.5,0.8,1.1,1.4,1.7,2.0

The same features as the default readout (layer 8; each chunk read after the one before
it; 4-token span means plus the chunk's last token state, standardised), the same
multiple-instance objective (a chunk's logit is its best span's; class-balanced BCE), but
64 ReLU units between features and logit, trained by AdamW for a fixed 12 epochs. 9b adds
600 probe_acts documents (rules, legends, questions labelled harmless). score_probe_mlp.py prints,
per threshold, the mean balanced accuracy over the fifteen tuning format splits, the harm
they approve, and the admissibility checks of docs/judges.md, from the caches of
scripts/compare_probe_readouts.py (--texts /tmp/probe_texts128) and fit_probe_judge.py
(--features-cache /tmp/pf).
"""
import argparse, json, sys, time
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_probe_judge import training_episodes, episode_chunks, token_states
from consent_gym.judges.probe import chunk_prefixes, window_means

p = argparse.ArgumentParser()
p.add_argument("--seed", type=int, default=0)
p.add_argument("--acts", type=int, default=0)
p.add_argument("--hidden", type=int, default=64)
p.add_argument("--epochs", type=int, default=12)
p.add_argument("--wd", type=float, default=1e-4)
p.add_argument("--out", required=True)
a = p.parse_args()
torch.set_num_threads(2); torch.manual_seed(a.seed)
eps = training_episodes(a.seed, 800, 1000)
if a.acts:
    from consent_gym.judges.probe_acts import act_episodes
    eps += [d.as_probe_episode() for d in act_episodes(a.seed, a.acts)]
label = {}
for e in eps:
    ch = episode_chunks(e)
    for p_, (c, h) in zip(chunk_prefixes([c for c, _ in ch], 1), ch):
        label[(p_, c)] = label.get((p_, c), False) or h
keys = sorted(label)
print(len(eps), "episodes", len(keys), "keys", sum(label.values()), "harmful", flush=True)
t = time.time()
states, _, _ = token_states("gemma", keys, 8, 32, Path("/tmp/pf"))
print("states", round(time.time() - t), "s", flush=True)
W = 4
spans = [window_means(states[k], W) for k in keys]
owner = np.concatenate([np.full(len(s), i) for i, s in enumerate(spans)])
S = np.concatenate(spans); L = np.stack([states[k][-1] for k in keys])
del states
sm, ss = S.mean(0), S.std(0) + 1e-6; lm, ls = L.mean(0), L.std(0) + 1e-6
S = torch.tensor((S - sm) / ss); L = torch.tensor((L - lm) / ls)
y = torch.tensor([float(label[k]) for k in keys])
own = torch.tensor(owner)
n = len(keys); pos = y.sum()
wt = torch.where(y == 1, n / (2 * pos), n / (2 * (n - pos)))
# the spans of each key are contiguous: start offsets for minibatching
start = np.concatenate([[0], np.cumsum([len(s) for s in spans])])
d, H = S.shape[1], a.hidden
A = torch.nn.Linear(d, H); B = torch.nn.Linear(d, H, bias=False); v = torch.nn.Linear(H, 1)
params = list(A.parameters()) + list(B.parameters()) + list(v.parameters())
opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=a.wd)
rng = np.random.default_rng(a.seed)
bs = 2048
for epoch in range(a.epochs):
    order = rng.permutation(n); tot = 0.0
    for i in range(0, n, bs):
        ks = np.sort(order[i:i + bs])
        idx = np.concatenate([np.arange(start[k], start[k + 1]) for k in ks])
        loc = torch.tensor(np.repeat(np.arange(len(ks)), start[ks + 1] - start[ks]))
        h = torch.relu(A(S[idx]) + B(L[ks])[loc])
        s = v(h).squeeze(1)
        chunk = torch.full((len(ks),), -torch.inf).scatter_reduce(0, loc, s, "amax")
        loss = (wt[ks] * torch.nn.functional.binary_cross_entropy_with_logits(
            chunk, y[ks], reduction="none")).mean()
        opt.zero_grad(); loss.backward(); opt.step(); tot += float(loss.detach()) * len(ks)
    print("epoch", epoch, round(tot / n, 4), flush=True)
np.savez(a.out, sm=sm, ss=ss, lm=lm, ls=ls, A=A.weight.detach().numpy(), a=A.bias.detach().numpy(),
         B=B.weight.detach().numpy(), v=v.weight.detach().numpy()[0], c=float(v.bias.detach()[0]),
         meta=json.dumps(vars(a)))
print("done", round(time.time() - t), "s")

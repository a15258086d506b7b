"""The small CNN of scripts/quality/fashion_classifier.py and scripts/quality/folder_classifier.py, and its training
step, and how both save it. Tooling only (Debian's python3-torch); the product is C++."""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """forward(x [N, C, S, S] in [-1, 1]) -> (features [N, 128], logits [N, classes])."""

    def __init__(self, channels: int = 1, size: int = 28, classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv4 = nn.Conv2d(64, 64, 3, padding=1)
        self.bn1, self.bn2 = nn.BatchNorm2d(32), nn.BatchNorm2d(64)
        self.fc = nn.Linear(64 * (size // 4) * (size // 4), 128)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(128, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.bn1(self.conv1(x))))), 2)
        x = F.max_pool2d(F.relu(self.conv4(F.relu(self.bn2(self.conv3(x))))), 2)
        features = F.relu(self.fc(x.flatten(1)))
        return features, self.out(self.drop(features))


def train_step(net, opt, sched, xb, yb, flip, generator=None):
    """One Adam step on a batch, with random horizontal flips when `flip`; returns the loss."""
    net.train()
    if flip:
        flipped = torch.rand(len(xb), generator=generator) < 0.5
        xb = torch.where(flipped.view(-1, 1, 1, 1), xb.flip(3), xb)
    loss = F.cross_entropy(net(xb)[1], yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    return loss


def save_classifier(net, out, script, data, flip, epochs, accuracy):
    """Writes `net` to `out` atomically as TorchScript in eval mode, with how it was trained (the
    extra file ddpm_classifier.json, which `ddpm eval --classifier` shows)."""
    net.eval()
    scripted = torch.jit.script(net)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    record = {"script": script, "data": os.path.abspath(data), "flip": flip, "epochs": epochs,
              "accuracy": round(float(accuracy), 6)}
    tmp = out + ".tmp"
    scripted.save(tmp, _extra_files={"ddpm_classifier.json": json.dumps(record)})
    os.replace(tmp, out)

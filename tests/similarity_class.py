# ruff: noqa: E501 - the variants are students' code as data, one string per line of theirs
"""A class of PA3 submissions for calibrating `pa3 similarity`: honest students who wrote their own code, and
planted copies.

Each honest student is the reference with every solution region replaced by that student's own version. Short
members come from small pools, so several honest students hand in the same vectorised line (as real classes do);
the longer members (the layer's backward pass, the notebook's search, model and training cells) are written
differently by each, in their own habits: loops or vectorised code, their own names, comments, helper functions,
some of them buggy. All variants were written for this test. Deterministic: no randomness at all.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from grader import REFERENCE_DIR
from grader.builders.template import _strip_lines

SMALL = {  # (file, region) -> variants; student i takes variant i % len
    ("activations.py", 0): ["return np.maximum(Z, 0.0)", "return np.maximum(0, Z)", "return Z * (Z > 0)",
                            "out = Z.copy()\nout[out < 0] = 0\nreturn out"],
    ("activations.py", 1): ["return dY * (Z > 0)", "return dY * (Z > 0).astype(float)",
                            "mask = Z > 0\nreturn np.where(mask, dY, 0.0)"],
    ("activations.py", 2): ["exps = np.exp(Z - Z.max(axis=1, keepdims=True))\nreturn exps / exps.sum(axis=1, keepdims=True)",
                            "e = np.exp(Z - np.max(Z, axis=1, keepdims=True))\nreturn e / np.sum(e, axis=1, keepdims=True)",
                            "shifted = Z - np.max(Z, axis=-1)[:, None]\nnum = np.exp(shifted)\n"
                            "return num / num.sum(axis=-1)[:, None]"],
    ("loss.py", 0): ["m = Y.shape[0]\nreturn -np.sum(Y * np.log(Y_hat)) / m",
                     "return -np.mean(np.sum(Y * np.log(Y_hat), axis=1))",
                     "eps = 1e-12\nreturn float(-(Y * np.log(Y_hat + eps)).sum() / len(Y))"],
    ("loss.py", 1): ["m = Y.shape[0]\nreturn -Y / (m * Y_hat)", "return -(Y / Y_hat) / Y.shape[0]",
                     "return -Y / Y_hat / len(Y)"],
    ("model.py", 0): ["for layer in self.layers:\n    X = layer.forward(X)\nreturn X",
                      "out = X\nfor l in self.layers:\n    out = l.forward(out)\nreturn out"],
    ("model.py", 2): ["Y_hat = self.forward(X)\nreturn Y_hat, self.loss.forward(Y, Y_hat)",
                      "pred = self.forward(X)\nloss = self.loss(Y, pred)\nreturn pred, loss"],
    ("PA3.ipynb", 5): ["plt.plot(best.epoch_log['iteration_loss'])\nplt.xlabel('iteration')\nplt.ylabel('loss')\nplt.show()",
                       "plt.figure()\nplt.plot(best.epoch_log['iteration_loss'], label='train loss')\nplt.legend()\n"
                       "plt.title('Iris')\nplt.show()"],
    ("PA3.ipynb", 10): ["plt.plot(train_losses, label='train')\nplt.plot(val_losses, label='val')\nplt.legend()\nplt.show()",
                        "epochs = range(1, len(train_losses) + 1)\nplt.figure(figsize=(6, 4))\n"
                        "plt.plot(epochs, train_losses, label='training')\nplt.plot(epochs, val_losses, label='validation')\n"
                        "plt.xlabel('epoch')\nplt.ylabel('loss')\nplt.title('Loss')\nplt.legend()\nplt.show()"],
    ("PA3.ipynb", 11): ["plt.plot(train_accuracies, label='train')\nplt.plot(val_accuracies, label='val')\nplt.legend()\nplt.show()",
                        "epochs = range(1, len(train_accuracies) + 1)\nplt.figure(figsize=(6, 4))\n"
                        "plt.plot(epochs, train_accuracies, label='training')\nplt.plot(epochs, val_accuracies, label='validation')\n"
                        "plt.xlabel('epoch')\nplt.ylabel('accuracy')\nplt.title('Accuracy')\nplt.legend()\nplt.show()"],
}

# One entry per honest student: that student's own version of each longer region.
OWN: list[dict[tuple[str, int], str]] = [
    {  # 0: vectorised, terse
        ("activations.py", 3): "Y = self.forward(Z)\nreturn Y * (dY - np.sum(Y * dY, axis=1, keepdims=True))",
        ("layers.py", 0): "W, b = self.parameters['W'], self.parameters['b']\nZ = X @ W + b\nself.cache['X'] = X\n"
                          "self.cache['Z'] = Z\nreturn self.activation(Z)",
        ("layers.py", 1): "X, Z = self.cache['X'], self.cache['Z']\ndZ = self.activation.backward(Z, dLdY)\n"
                          "self.gradients['W'] = X.T @ dZ\nself.gradients['b'] = dZ.sum(axis=0, keepdims=True)\n"
                          "return dZ @ self.parameters['W'].T",
        ("model.py", 1): "L = self.loss.forward(target, out)\nd = self.loss.backward(target, out)\n"
                         "for layer in reversed(self.layers):\n    d = layer.backward(d)\nreturn L",
        ("PA3.ipynb", 4): "results = {}\nfor lr in (0.01, 0.05):\n    for hidden in (8, 32):\n"
                          "        m = build_model(lr, hidden)\n        m.train(iris, epochs=50)\n"
                          "        results[(lr, hidden)] = (m.epoch_log['error']['validate'][-1], m)\n"
                          "best_lr, best_hidden = min(results, key=lambda k: results[k][0])\n"
                          "best = results[(best_lr, best_hidden)][1]",
        ("PA3.ipynb", 8): "model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))",
        ("PA3.ipynb", 9): "criterion = nn.CrossEntropyLoss()\noptimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
                          "train_losses, val_losses, train_accuracies, val_accuracies = [], [], [], []\n"
                          "for epoch in range(10):\n    model.train()\n    tl, tc, tn = 0.0, 0, 0\n"
                          "    for x, y in train_loader:\n        optimizer.zero_grad()\n        logits = model(x)\n"
                          "        loss = criterion(logits, y)\n        loss.backward()\n        optimizer.step()\n"
                          "        tl += loss.item() * len(y)\n        tc += (logits.argmax(1) == y).sum().item()\n"
                          "        tn += len(y)\n    model.eval()\n    vl, vc, vn = 0.0, 0, 0\n"
                          "    with torch.no_grad():\n        for x, y in val_loader:\n            logits = model(x)\n"
                          "            vl += criterion(logits, y).item() * len(y)\n"
                          "            vc += (logits.argmax(1) == y).sum().item()\n            vn += len(y)\n"
                          "    train_losses.append(tl / tn)\n    train_accuracies.append(tc / tn)\n"
                          "    val_losses.append(vl / vn)\n    val_accuracies.append(vc / vn)\n"
                          "    print(epoch, tl / tn, vc / vn)",
    },
    {  # 1: loops everywhere, long names, comments
        ("activations.py", 3): "# Jacobian of softmax for each sample separately\nsoft = self.forward(Z)\n"
                               "grad = np.zeros_like(Z)\nfor row in range(Z.shape[0]):\n    s = soft[row].reshape(-1, 1)\n"
                               "    jacobian = np.diagflat(s) - s @ s.T\n    grad[row] = jacobian @ dY[row]\nreturn grad",
        ("layers.py", 0): "# affine part first\nweights = self.parameters['W']\nbias = self.parameters['b']\n"
                          "pre_activation = np.dot(X, weights) + bias\nself.cache['X'] = X\n"
                          "self.cache['Z'] = pre_activation\n# then the nonlinearity\n"
                          "output = self.activation.forward(pre_activation)\nreturn output",
        ("layers.py", 1): "inputs = self.cache['X']\npre = self.cache['Z']\n"
                          "grad_pre = self.activation.backward(pre, dLdY)\nweight_grad = np.zeros_like(self.parameters['W'])\n"
                          "for sample in range(inputs.shape[0]):\n"
                          "    weight_grad += np.outer(inputs[sample], grad_pre[sample])\n"
                          "self.gradients['W'] = weight_grad\nbias_grad = np.zeros((1, grad_pre.shape[1]))\n"
                          "for sample in range(grad_pre.shape[0]):\n    bias_grad[0] += grad_pre[sample]\n"
                          "self.gradients['b'] = bias_grad\ngrad_input = np.dot(grad_pre, self.parameters['W'].T)\n"
                          "return grad_input",
        ("model.py", 1): "# loss value first, then its gradient flows back layer by layer\n"
                         "loss_value = self.loss.forward(target, out)\ngradient = self.loss.backward(target, out)\n"
                         "for index in range(len(self.layers) - 1, -1, -1):\n"
                         "    gradient = self.layers[index].backward(gradient)\nreturn loss_value",
        ("PA3.ipynb", 4): "best_error = 1.0\nbest = None\nfor learning_rate in [0.001, 0.01, 0.1]:\n"
                          "    candidate = build_model(learning_rate, 16)\n    candidate.train(iris, epochs=40)\n"
                          "    err = candidate.epoch_log['error']['validate'][-1]\n"
                          "    print('lr', learning_rate, 'validation error', err)\n    if err < best_error:\n"
                          "        best_error = err\n        best = candidate\n        best_lr = learning_rate\n"
                          "best_hidden = 16",
        ("PA3.ipynb", 8): "class FashionNet(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                          "        self.flatten = nn.Flatten()\n        self.hidden1 = nn.Linear(28 * 28, 512)\n"
                          "        self.hidden2 = nn.Linear(512, 128)\n        self.output = nn.Linear(128, 10)\n"
                          "        self.act = nn.ReLU()\n\n    def forward(self, x):\n        x = self.flatten(x)\n"
                          "        x = self.act(self.hidden1(x))\n        x = self.act(self.hidden2(x))\n"
                          "        return self.output(x)\n\n\nmodel = FashionNet()",
        ("PA3.ipynb", 9): "loss_function = nn.CrossEntropyLoss()\n"
                          "optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)\n"
                          "train_losses = []\nval_losses = []\ntrain_accuracies = []\nval_accuracies = []\n\n\n"
                          "def evaluate(loader):\n    \"\"\"average loss and accuracy over a loader\"\"\"\n"
                          "    model.eval()\n    total = 0\n    right = 0\n    loss_sum = 0\n"
                          "    with torch.no_grad():\n        for images, labels in loader:\n"
                          "            predictions = model(images)\n"
                          "            loss_sum += loss_function(predictions, labels).item() * images.shape[0]\n"
                          "            _, guessed = torch.max(predictions, 1)\n"
                          "            right += (guessed == labels).sum().item()\n            total += images.shape[0]\n"
                          "    return loss_sum / total, right / total\n\n\nfor epoch_number in range(12):\n"
                          "    model.train()\n    for images, labels in train_loader:\n"
                          "        predictions = model(images)\n        loss = loss_function(predictions, labels)\n"
                          "        optimizer.zero_grad()\n        loss.backward()\n        optimizer.step()\n"
                          "    train_loss, train_acc = evaluate(train_loader)\n    val_loss, val_acc = evaluate(val_loader)\n"
                          "    train_losses.append(train_loss)\n    val_losses.append(val_loss)\n"
                          "    train_accuracies.append(train_acc)\n    val_accuracies.append(val_acc)\n"
                          "    print(f'Epoch {epoch_number}: val acc = {val_acc:.3f}')",
    },
    {  # 2: helper functions, einsum, a buggy bias gradient
        ("activations.py", 3): "p = self.forward(Z)\ninner = np.einsum('ij,ij->i', p, dY)[:, np.newaxis]\n"
                               "return p * (dY - inner)",
        ("layers.py", 0): "self.cache['X'] = X\nself.cache['Z'] = np.matmul(X, self.parameters['W']) + self.parameters['b']\n"
                          "return self.activation(self.cache['Z'])",
        ("layers.py", 1): "def _weight_grad(x, g):\n    return np.einsum('mi,mj->ij', x, g)\n\n"
                          "g = self.activation.backward(self.cache['Z'], dLdY)\n"
                          "self.gradients['W'] = _weight_grad(self.cache['X'], g)\n"
                          "self.gradients['b'] = g.mean(axis=0, keepdims=True)  # mean, not sum\n"
                          "return np.matmul(g, self.parameters['W'].transpose())",
        ("model.py", 1): "loss = self.loss(target, out)\nupstream = self.loss.backward(target, out)\n"
                         "for lyr in self.layers[::-1]:\n    upstream = lyr.backward(upstream)\nreturn loss",
        ("PA3.ipynb", 4): "def try_config(rate, width):\n    net = build_model(rate, width)\n    net.train(iris, epochs=30)\n"
                          "    return net.epoch_log['error']['validate'][-1], net\n\n\n"
                          "grid = [(r, w) for r in (0.02, 0.2) for w in (4, 10, 20)]\n"
                          "scores = {cfg: try_config(*cfg) for cfg in grid}\n"
                          "best_lr, best_hidden = sorted(scores, key=lambda c: scores[c][0])[0]\n"
                          "best = scores[(best_lr, best_hidden)][1]",
        ("PA3.ipynb", 8): "layers = [nn.Flatten()]\nwidths = [784, 300, 100]\nfor a, b in zip(widths, widths[1:]):\n"
                          "    layers += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(0.1)]\nlayers.append(nn.Linear(100, 10))\n"
                          "model = nn.Sequential(*layers)",
        ("PA3.ipynb", 9): "def accuracy(logits, target):\n    return (logits.argmax(dim=-1) == target).float().mean().item()\n\n\n"
                          "def one_pass(loader, learn):\n    losses, accs = [], []\n    model.train(learn)\n"
                          "    for batch_x, batch_y in loader:\n        with torch.set_grad_enabled(learn):\n"
                          "            scores = model(batch_x)\n            cost = F.cross_entropy(scores, batch_y)\n"
                          "        if learn:\n            opt.zero_grad()\n            cost.backward()\n            opt.step()\n"
                          "        losses.append(cost.item())\n        accs.append(accuracy(scores, batch_y))\n"
                          "    return sum(losses) / len(losses), sum(accs) / len(accs)\n\n\n"
                          "import torch.nn.functional as F\nopt = torch.optim.AdamW(model.parameters(), lr=2e-3)\n"
                          "history = {'tl': [], 'vl': [], 'ta': [], 'va': []}\nfor ep in range(8):\n"
                          "    a, b = one_pass(train_loader, True)\n    c, d = one_pass(val_loader, False)\n"
                          "    for key, value in zip(history, (a, c, b, d)):\n        history[key].append(value)\n"
                          "train_losses, val_losses = history['tl'], history['vl']\n"
                          "train_accuracies, val_accuracies = history['ta'], history['va']",
    },
    {  # 3: explicit and careful, asserts, percentages
        ("activations.py", 3): "s = self.forward(Z)\nm, k = s.shape\nout = np.empty((m, k))\nfor i in range(m):\n"
                               "    J = -np.outer(s[i], s[i])\n    J[np.diag_indices(k)] += s[i]\n    out[i] = J.T.dot(dY[i])\n"
                               "return out",
        ("layers.py", 0): "assert X.shape[1] == self.n_in\nlinear = X.dot(self.parameters['W'])\n"
                          "linear = linear + self.parameters['b']\nself.cache.update(X=X, Z=linear)\n"
                          "return self.activation.forward(linear)",
        ("layers.py", 1): "dZ = self.activation.backward(self.cache['Z'], dLdY)\nassert dZ.shape == self.cache['Z'].shape\n"
                          "m = dZ.shape[0]\ndW = self.cache['X'].T.dot(dZ)\ndb = np.ones((1, m)).dot(dZ)\n"
                          "self.gradients.update(W=dW, b=db)\ndX = dZ.dot(self.parameters['W'].T)\n"
                          "assert dX.shape == self.cache['X'].shape\nreturn dX",
        ("model.py", 1): "value = self.loss.forward(target, out)\ngrad = self.loss.backward(target, out)\n"
                         "i = self.n_layers - 1\nwhile i >= 0:\n    grad = self.layers[i].backward(grad)\n    i -= 1\n"
                         "return value",
        ("PA3.ipynb", 4): "candidates = []\nfor hidden in [5, 10, 15, 20]:\n    mdl = build_model(0.03, hidden)\n"
                          "    mdl.train(iris, epochs=60)\n    candidates.append((mdl.epoch_log['error']['validate'][-1], hidden, mdl))\n"
                          "candidates.sort(key=lambda t: t[0])\nbest_err, best_hidden, best = candidates[0]\nbest_lr = 0.03\n"
                          "print(candidates[0][:2])",
        ("PA3.ipynb", 8): "torch.manual_seed(0)\nmodel = nn.Sequential(\n    nn.Flatten(),\n    nn.Linear(784, 128),\n"
                          "    nn.BatchNorm1d(128),\n    nn.ReLU(),\n    nn.Linear(128, 64),\n    nn.ReLU(),\n"
                          "    nn.Linear(64, 10))\nprint(sum(p.numel() for p in model.parameters()), 'parameters')",
        ("PA3.ipynb", 9): "crit = nn.CrossEntropyLoss()\nopt = torch.optim.Adam(model.parameters(), lr=0.001, weight_decay=1e-5)\n"
                          "n_epochs = 10\ntrain_losses, train_accuracies, val_losses, val_accuracies = [], [], [], []\n"
                          "for e in range(n_epochs):\n    model.train()\n    running = 0.0\n    hits = 0\n    seen = 0\n"
                          "    for imgs, lbls in tqdm(train_loader, leave=False):\n        opt.zero_grad()\n"
                          "        output = model(imgs)\n        batch_loss = crit(output, lbls)\n        batch_loss.backward()\n"
                          "        opt.step()\n        running += batch_loss.item() * imgs.size(0)\n"
                          "        hits += torch.sum(torch.argmax(output, dim=1) == lbls).item()\n        seen += imgs.size(0)\n"
                          "    train_losses.append(running / seen)\n    train_accuracies.append(100.0 * hits / seen)\n"
                          "    model.eval()\n    running, hits, seen = 0.0, 0, 0\n    with torch.no_grad():\n"
                          "        for imgs, lbls in val_loader:\n            output = model(imgs)\n"
                          "            running += crit(output, lbls).item() * imgs.size(0)\n"
                          "            hits += torch.sum(torch.argmax(output, dim=1) == lbls).item()\n"
                          "            seen += imgs.size(0)\n    val_losses.append(running / seen)\n"
                          "    val_accuracies.append(100.0 * hits / seen)\n"
                          "    print(f'{e + 1}/{n_epochs} train {train_losses[-1]:.3f} val acc {val_accuracies[-1]:.1f}%')",
    },
    {  # 4: beginner: many prints, unusual structure, a buggy softmax backward
        ("activations.py", 3): "# TODO not sure this is right\nreturn dY * self.forward(Z) * (1 - self.forward(Z))",
        ("layers.py", 0): "W = self.parameters[\"W\"]\nb = self.parameters[\"b\"]\nZ = np.zeros((X.shape[0], W.shape[1]))\n"
                          "for i in range(X.shape[0]):\n    for j in range(W.shape[1]):\n"
                          "        Z[i, j] = np.sum(X[i, :] * W[:, j]) + b[0, j]\nself.cache[\"X\"] = X\n"
                          "self.cache[\"Z\"] = Z\nY = self.activation(Z)\nreturn Y",
        ("layers.py", 1): "X = self.cache[\"X\"]\nZ = self.cache[\"Z\"]\ndLdZ = self.activation.backward(Z, dLdY)\n"
                          "dLdW = np.zeros(self.parameters[\"W\"].shape)\nfor i in range(X.shape[1]):\n"
                          "    for j in range(dLdZ.shape[1]):\n        dLdW[i, j] = np.sum(X[:, i] * dLdZ[:, j])\n"
                          "self.gradients[\"W\"] = dLdW\nself.gradients[\"b\"] = np.sum(dLdZ, axis=0).reshape(1, -1)\n"
                          "dX = np.zeros(X.shape)\nfor i in range(X.shape[0]):\n"
                          "    dX[i] = self.parameters[\"W\"].dot(dLdZ[i])\nreturn dX",
        ("model.py", 1): "l = self.loss.forward(target, out)\nprint('loss', l)\ng = self.loss.backward(target, out)\n"
                         "layers = list(self.layers)\nlayers.reverse()\nfor lay in layers:\n    g = lay.backward(g)\nreturn l",
        ("PA3.ipynb", 4): "best = build_model(0.01, 10)\nbest.train(iris, epochs=100)\nbest_lr = 0.01\nbest_hidden = 10\n"
                          "print('final validation error:', best.epoch_log['error']['validate'][-1])\n"
                          "other = build_model(0.1, 10)\nother.train(iris, epochs=100)\n"
                          "if other.epoch_log['error']['validate'][-1] < best.epoch_log['error']['validate'][-1]:\n"
                          "    best = other\n    best_lr = 0.1",
        ("PA3.ipynb", 8): "model = nn.Sequential()\nmodel.add_module('flat', nn.Flatten())\n"
                          "model.add_module('fc1', nn.Linear(784, 200))\nmodel.add_module('relu1', nn.ReLU())\n"
                          "model.add_module('fc2', nn.Linear(200, 10))\nprint(model)",
        ("PA3.ipynb", 9): "lossfn = nn.CrossEntropyLoss()\nsgd = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                          "train_losses = []\nval_losses = []\ntrain_accuracies = []\nval_accuracies = []\nfor epoch in range(5):\n"
                          "    print('epoch', epoch)\n    batch_losses = []\n    correct = 0\n    for images, labels in train_loader:\n"
                          "        out = model(images)\n        l = lossfn(out, labels)\n        sgd.zero_grad()\n        l.backward()\n"
                          "        sgd.step()\n        batch_losses.append(l.item())\n"
                          "        for p, t in zip(out.argmax(1).tolist(), labels.tolist()):\n            if p == t:\n"
                          "                correct += 1\n    train_losses.append(np.mean(batch_losses))\n"
                          "    train_accuracies.append(correct / len(train_loader.dataset))\n    vloss = []\n    vcorrect = 0\n"
                          "    for images, labels in val_loader:\n        out = model(images)\n"
                          "        vloss.append(lossfn(out, labels).item())\n"
                          "        vcorrect += (out.argmax(1) == labels).sum().item()\n    val_losses.append(np.mean(vloss))\n"
                          "    val_accuracies.append(vcorrect / len(val_loader.dataset))\n    print(val_accuracies[-1])",
    },
    {  # 5: compact, functional style, short names
        ("activations.py", 3): "y = self.forward(Z)\ndot = (dY * y).sum(1)\nreturn y * (dY - dot[:, None])",
        ("layers.py", 0): "z = X @ self.parameters['W'] + self.parameters['b']\nself.cache = OrderedDict(X=X, Z=z)\n"
                          "return self.activation(z)",
        ("layers.py", 1): "x, z = self.cache['X'], self.cache['Z']\ndz = self.activation.backward(z, dLdY)\n"
                          "self.gradients = OrderedDict(W=x.T @ dz, b=dz.sum(0)[None, :])\nreturn dz @ self.parameters['W'].T",
        ("model.py", 1): "from functools import reduce\nloss = self.loss.forward(target, out)\n"
                         "reduce(lambda g, layer: layer.backward(g), reversed(self.layers), self.loss.backward(target, out))\n"
                         "return loss",
        ("PA3.ipynb", 4): "import itertools\nruns = [(build_model(lr, h), lr, h) for lr, h in itertools.product([0.005, 0.05], [12, 24])]\n"
                          "for net, _, _ in runs:\n    net.train(iris, epochs=45)\n"
                          "best, best_lr, best_hidden = min(runs, key=lambda r: r[0].epoch_log['error']['validate'][-1])",
        ("PA3.ipynb", 8): "model = nn.Sequential(nn.Flatten(), nn.Linear(784, 400), nn.LeakyReLU(0.01), nn.Linear(400, 200), "
                          "nn.LeakyReLU(0.01), nn.Linear(200, 10)).to(device)",
        ("PA3.ipynb", 9): "device = 'cuda' if torch.cuda.is_available() else 'cpu'\nceloss = nn.CrossEntropyLoss()\n"
                          "optim = torch.optim.RMSprop(model.parameters(), lr=5e-4)\n"
                          "train_losses, val_losses, train_accuracies, val_accuracies = ([] for _ in range(4))\n"
                          "for _ in range(7):\n    model.train()\n"
                          "    stats = torch.zeros(3)\n    for xb, yb in train_loader:\n        xb, yb = xb.to(device), yb.to(device)\n"
                          "        pred = model(xb)\n        l = celoss(pred, yb)\n        optim.zero_grad(); l.backward(); optim.step()\n"
                          "        stats += torch.tensor([l.item() * len(yb), (pred.argmax(1) == yb).sum().item(), len(yb)])\n"
                          "    train_losses.append((stats[0] / stats[2]).item()); train_accuracies.append((stats[1] / stats[2]).item())\n"
                          "    model.eval()\n    with torch.inference_mode():\n"
                          "        outs = [(model(xb.to(device)), yb.to(device)) for xb, yb in val_loader]\n"
                          "    val_losses.append(sum(celoss(p, y).item() * len(y) for p, y in outs) / len(val_loader.dataset))\n"
                          "    val_accuracies.append(sum((p.argmax(1) == y).sum().item() for p, y in outs) / len(val_loader.dataset))",
    },
]

# Students 6 and 7 write the Part 1 members the canonical vectorised way, as the course's own solution does (student
# 7 in other names): many honest students converge on exactly that code, so it must not flag them. Their notebooks
# are their own.
OWN += [
    {
        ("PA3.ipynb", 4): "configs = [(0.01, 8), (0.01, 16), (0.1, 8), (0.1, 16)]\nerrors = []\nmodels = []\n"
                          "for (lr, h) in configs:\n    nn_model = build_model(lr, h)\n    nn_model.train(iris, epochs=25)\n"
                          "    errors.append(nn_model.epoch_log['error']['validate'][-1])\n    models.append(nn_model)\n"
                          "i = int(np.argmin(errors))\nbest, (best_lr, best_hidden) = models[i], configs[i]\nprint(errors)",
        ("PA3.ipynb", 8): "hidden = 192\nmodel = nn.Sequential(nn.Flatten(start_dim=1), nn.Linear(28 * 28, hidden), nn.Tanh(),\n"
                          "                      nn.Linear(hidden, hidden // 2), nn.Tanh(), nn.Linear(hidden // 2, 10))",
        ("PA3.ipynb", 9): "def train(dataloader, model, loss_fn, optimizer):\n    model.train()\n    size = len(dataloader.dataset)\n"
                          "    total, correct = 0.0, 0\n    for X, y in dataloader:\n        pred = model(X)\n"
                          "        loss = loss_fn(pred, y)\n        loss.backward()\n        optimizer.step()\n"
                          "        optimizer.zero_grad()\n        total += loss.item() * X.shape[0]\n"
                          "        correct += (pred.argmax(1) == y).type(torch.float).sum().item()\n"
                          "    return total / size, correct / size\n\n\n"
                          "def test(dataloader, model, loss_fn):\n    model.eval()\n    size = len(dataloader.dataset)\n"
                          "    total, correct = 0.0, 0\n    with torch.no_grad():\n        for X, y in dataloader:\n"
                          "            pred = model(X)\n            total += loss_fn(pred, y).item() * X.shape[0]\n"
                          "            correct += (pred.argmax(1) == y).type(torch.float).sum().item()\n"
                          "    return total / size, correct / size\n\n\n"
                          "loss_fn = nn.CrossEntropyLoss()\noptimizer = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.8)\n"
                          "train_losses, val_losses, train_accuracies, val_accuracies = [], [], [], []\n"
                          "for t in range(9):\n    a, b = train(train_loader, model, loss_fn, optimizer)\n"
                          "    c, d = test(val_loader, model, loss_fn)\n    train_losses.append(a)\n    train_accuracies.append(b)\n"
                          "    val_losses.append(c)\n    val_accuracies.append(d)\n    print(f'Epoch {t + 1}: {d:>0.3f}')",
    },
    {
        ("PA3.ipynb", 4): "import pandas as pd\nrows = []\nfor lr in np.logspace(-3, -1, 3):\n    for n_hidden in (6, 12):\n"
                          "        trial = build_model(lr, n_hidden)\n        trial.train(iris, epochs=35)\n"
                          "        rows.append(dict(lr=lr, hidden=n_hidden, err=trial.epoch_log['error']['validate'][-1], obj=trial))\n"
                          "table = pd.DataFrame(rows).sort_values('err')\nprint(table[['lr', 'hidden', 'err']])\n"
                          "best_lr, best_hidden, best = table.iloc[0]['lr'], table.iloc[0]['hidden'], table.iloc[0]['obj']",
        ("PA3.ipynb", 8): "class MLP(nn.Module):\n    def __init__(self, sizes=(784, 256, 64, 10), p=0.2):\n        super().__init__()\n"
                          "        blocks = []\n        for i in range(len(sizes) - 2):\n"
                          "            blocks += [nn.Linear(sizes[i], sizes[i + 1]), nn.ReLU(), nn.Dropout(p)]\n"
                          "        blocks.append(nn.Linear(sizes[-2], sizes[-1]))\n        self.net = nn.Sequential(*blocks)\n\n"
                          "    def forward(self, images):\n        return self.net(images.view(images.size(0), -1))\n\n\nmodel = MLP()",
        ("PA3.ipynb", 9): "optimiser = torch.optim.Adam(model.parameters(), lr=3e-4)\nlog = []\n"
                          "for epoch in range(1, 13):\n    model.train()\n    seen = good = 0\n    summed = 0.0\n"
                          "    for inputs, targets in train_loader:\n        optimiser.zero_grad(set_to_none=True)\n"
                          "        out = model(inputs)\n        batch = nn.functional.cross_entropy(out, targets, reduction='sum')\n"
                          "        (batch / len(targets)).backward()\n        optimiser.step()\n        summed += batch.item()\n"
                          "        good += int((out.argmax(-1) == targets).sum())\n        seen += len(targets)\n"
                          "    model.eval()\n    v_seen = v_good = 0\n    v_summed = 0.0\n    with torch.no_grad():\n"
                          "        for inputs, targets in val_loader:\n            out = model(inputs)\n"
                          "            v_summed += nn.functional.cross_entropy(out, targets, reduction='sum').item()\n"
                          "            v_good += int((out.argmax(-1) == targets).sum())\n            v_seen += len(targets)\n"
                          "    log.append((summed / seen, v_summed / v_seen, good / seen, v_good / v_seen))\n"
                          "train_losses, val_losses, train_accuracies, val_accuracies = (list(col) for col in zip(*log))",
    },
]
# Student 7's names for the canonical members (a find-and-replace of the course solution's local names).
CANONICAL_NAMES = {"exps": "e", "dLdZ": "delta", "L": "loss_value", "dL": "grad"}


def _fill(source: str, regions: dict[int, str], where: str) -> str:
    counter = iter(range(100))

    def body(indent: str, _line: int) -> str:
        text = regions[next(counter)]
        return "".join(f"{indent}{line}\n" if line else "\n" for line in text.splitlines())

    return _strip_lines(source, body, where)


def student_files(i: int) -> dict[str, str]:
    """Honest student ``i``'s files: the reference with each solution region in that student's own words."""
    own = OWN[i]
    chosen = {key: variants[i % len(variants)] for key, variants in SMALL.items()} | own
    files: dict[str, str] = {}
    for name in ("activations.py", "layers.py", "loss.py", "model.py", "util.py"):
        source = (REFERENCE_DIR / name).read_text()
        regions = {r: text for (f, r), text in chosen.items() if f == name}
        if i >= 6:  # the course solution's own members, markers dropped
            files[name] = "".join(line for line in source.splitlines(keepends=True) if "SOLUTION" not in line)
            if i == 7:
                files[name] = _rename({name: files[name]}, CANONICAL_NAMES)[name]
            continue
        files[name] = _fill(source, regions, name) if regions else source
    nb = json.loads((REFERENCE_DIR / "PA3.ipynb").read_text())
    for index, cell in enumerate(nb["cells"]):
        cell_source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and "BEGIN SOLUTION" in cell_source:
            cell["source"] = _fill(cell_source, {0: chosen[("PA3.ipynb", index)]}, f"cell {index}")
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    files["PA3.ipynb"] = json.dumps(nb, indent=1)
    return files


def _rename(files: dict[str, str], names: dict[str, str]) -> dict[str, str]:
    """A copier's find-and-replace of local names (whole words), in modules and notebook alike."""
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    return {name: pattern.sub(lambda m: names[m.group(1)], text) for name, text in files.items()}


def _reorder(source: str) -> str:
    """Methods of each class and the module's classes in reverse order, comments gone, new ones added."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            doc = node.body[:1] if isinstance(node.body[0], ast.Expr) else []
            node.body = doc + list(reversed(node.body[len(doc):]))
    head = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom, ast.Expr))]
    rest = [n for n in tree.body if n not in head]
    tree.body = head + list(reversed(rest))
    lines = ast.unparse(tree).splitlines()
    return "\n".join(f"{line}  # step" if line.strip().startswith("return") else line for line in lines) + "\n"


def planted(class_files: dict[str, dict[str, str]]) -> tuple[dict[str, dict[str, str]], list[tuple[str, str]]]:
    """Three copies of honest students' work and the pairs (original, copy) that must be found."""
    copies = {
        # every local name changed, throughout
        "copy_renamed": _rename(class_files["honest_0"], {
            "Z": "pre", "dY": "upstream", "Y": "probs", "X": "inp", "W": "weights", "dZ": "delta", "L": "total",
            "d": "grad", "results": "table", "m": "net", "tl": "sum_loss", "tc": "sum_ok", "tn": "count",
            "vl": "v_loss", "vc": "v_ok", "vn": "v_count", "logits": "scores", "x": "batch", "y": "target"}),
        # methods and classes reordered, comments replaced, formatting changed
        "copy_reordered": {name: (_reorder(text) if name.endswith(".py") else text)
                           for name, text in class_files["honest_1"].items()},
        # honest student 4's own work, except the notebook's training cell, taken from student 3
        "copy_one_member": _one_member(class_files["honest_4"], class_files["honest_3"]),
    }
    pairs = [("honest_0", "copy_renamed"), ("honest_1", "copy_reordered"), ("honest_3", "copy_one_member")]
    return copies, pairs


def _one_member(own: dict[str, str], source: dict[str, str]) -> dict[str, str]:
    mine, theirs = json.loads(own["PA3.ipynb"]), json.loads(source["PA3.ipynb"])
    mine["cells"][9]["source"] = theirs["cells"][9]["source"]
    return own | {"PA3.ipynb": json.dumps(mine, indent=1)}


def write_class(root: Path) -> list[tuple[str, str]]:
    """Write the class (one folder per submission) under ``root``; return the planted (original, copy) pairs."""
    honest = {f"honest_{i}": student_files(i) for i in range(len(OWN))}
    copies, pairs = planted(honest)
    del honest["honest_4"]  # copy_one_member is student 4: honest but for one cell
    for ident, files in (honest | copies).items():
        for name, text in files.items():
            (root / ident).mkdir(parents=True, exist_ok=True)
            (root / ident / name).write_text(text)
    return pairs

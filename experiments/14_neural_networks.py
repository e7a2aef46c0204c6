"""Neural networks: hand backpropagation, representation power, initialization, normalization,
regularization, and the MLP and CNN on the 8×8 digits (SYLLABUS §4).

Command:
    .venv/bin/python experiments/14_neural_networks.py [--quick] [--seed 0] [--out runs/neural_networks]

Reproduces, with seed 0 at --quick size: (1) the hand backward pass δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾δ⁽ˡ⁺¹⁾) ⊙ φ'(z⁽ˡ⁾)
equals jax.grad to ~2e-16 in float64, and one training run through `fit` on either gradient gives
loss curves 2e-7 apart in float32; (2) one hidden layer of n ReLU ramps fits a smooth function with
max error falling as n^−1.86 (theory −2), n sigmoid steps as n^−0.97 (theory −1); (3) through 50
ReLU layers He keeps the activation variance (last/first 2.1) where Xavier (Var W = 1/n, half of
what ReLU needs) vanishes (7e-15), N(0, 0.01²) vanishes (3e-91) and N(0, 1) explodes (3e+101); (4) a
20-layer tanh MLP on digits (SGD + momentum, η = 0.03) learns nothing without normalization from
this seed's weights (test accuracy 0.10), 0.98 with batch norm and 0.97 with layer norm; (5) on 200
training digits dropout and an L2 term raise test accuracy 0.930 → 0.941, and decoupled weight decay
equals the L2 term exactly under SGD (0 apart) but not under Adam (0.11); (6) the MLP reaches 0.975
and the CNN 0.992 test accuracy on digits (3 errors of 360); (7) an 8×8 grid of augmented digits.
Writes PNGs to runs/neural_networks/.
"""

from jaxml.studies import run_experiment
from jaxml.studies.nn import (
    nn_augmentation,
    nn_backprop,
    nn_batch_norm,
    nn_bumps,
    nn_digits,
    nn_initialization,
    nn_regularization,
)

if __name__ == "__main__":
    run_experiment(nn_backprop, nn_bumps, nn_initialization, nn_batch_norm, nn_regularization, nn_digits,
                   nn_augmentation, out="runs/neural_networks", description=__doc__)

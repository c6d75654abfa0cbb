"""The names of the built-in tasks and panels, each task with one line: what help texts, task
references and ``actsearch tasks`` need, in a module that imports no torch (``actsearch --help``
stays fast; importing the task registry costs seconds).

The tasks themselves (settings, data, child network) are :mod:`actsearch.evaluators.tasks`, which
registers exactly these names in this order (``tests/evaluators/test_tasks.py`` checks it); the
panels are run by :mod:`actsearch.evaluators.panel`.
"""

from __future__ import annotations

TASKS: dict[str, str] = {
    "mnist1d": "MNIST-1D on a deep plain MLP: the default search task",
    "mnist1d-shallow": "MNIST-1D on a 2-hidden-layer MLP: fast, but it rewards polynomials",
    "mnist1d-resnet": "MNIST-1D on a 1-D pre-activation ResNet with batch norm: a validation task (~99 %)",
    "mnist1d-cnn": "MNIST-1D on a plain 1-D CNN without normalisation: a transfer task",
    "mnist1d-resnet-ln": "MNIST-1D on a small layer-normalised 1-D ResNet: a transfer task that ranks",
    "mnist1d-vit": "MNIST-1D on a small transformer whose MLP blocks use the candidate: a transfer task",
    "digits": "scikit-learn's 8x8 digits on a small MLP: a smoke test",
    "cifar10": "CIFAR-10 on ResNet-20 (the Swish paper's child network), from a local directory",
    "xor": "one neuron on XOR (Pinto & Tavares 2024); score = success rate",
    "ood-regression": "a small MLP fits 1-D functions, scored outside the training range (Vitvitskyi et al. 2026)",
    "teacher": "teacher-student filter recovery (Du, Lee & Tian 2017); score = |cos(w, w*)|",
}

PANELS: dict[str, tuple[str, ...]] = {
    # the deep plain MLP of the default search and the three transfer architectures
    "transfer": ("mnist1d", "mnist1d-cnn", "mnist1d-resnet-ln", "mnist1d-vit"),
}


def task_help() -> str:
    """The ``--task`` help text of every command that takes one."""
    return (f"a task: {', '.join(TASKS)}; table:FILE; panel:A,B or panel:{'|'.join(PANELS)}; FILE.py:NAME or "
            "module:NAME (see actsearch tasks)")

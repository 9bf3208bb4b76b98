"""The miniature's policy and its update: a softmax bandit trained GRPO-style.

For each training prompt the policy is a softmax over that prompt's candidate answers
(:mod:`svgkit.minirft.candidates`), with one logit per candidate. It is a bandit, not a
language model: it can only re-weight answers that already exist, never write a new one.

One training step on one prompt, as GRPO does it (Shao et al. 2024, DeepSeekMath):

1. sample a group of n candidates from the policy;
2. score them (the real reward) and compute group-relative advantages
   ``A_i = (r_i - mean(r)) / (std(r) + eps)`` (:func:`group_advantages`; population std);
3. ascend ``mean_i A_i log pi(a_i) - beta KL(pi || pi_start)``.

For a softmax the gradient is exact and short: ``d log pi(a) / d logits = onehot(a) - pi``,
and ``d KL(pi || pi0) / d logits = pi * (log pi - log pi0 - KL)``. One gradient step is taken
per group, so PPO's probability-ratio clipping never binds and is left out.

Two consequences the tutorial shows: a group whose samples all score the same has advantages
of exactly zero (tested for exact equality, so rounding in the mean never leaks in), and at
the starting policy the KL gradient is exactly zero too, so a prompt that only ever yields
zero-spread groups never moves at all.
"""

from collections.abc import Sequence

import numpy as np

__all__ = ["SoftmaxPolicy", "entropy", "group_advantages", "kl_divergence", "softmax"]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits (numerically stable)."""
    z = np.exp(logits - logits.max())
    return z / z.sum()


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """``KL(p || q)`` in nats (terms where ``p`` is 0 contribute 0)."""
    mask = p > 0
    return float(np.sum(p[mask] * (np.log(p[mask]) - np.log(q[mask]))))


def entropy(p: np.ndarray) -> float:
    """Entropy of a distribution in nats."""
    mask = p > 0
    return float(-np.sum(p[mask] * np.log(p[mask])))


def group_advantages(rewards: Sequence[float], *, eps: float = 1e-6) -> np.ndarray:
    """GRPO's group-relative advantages ``(r - mean) / (std + eps)`` (population std).

    A group whose rewards are all equal (or that has a single sample) gets advantages of
    exactly zero: such a group carries no learning signal.

    Args:
        rewards: The group's rewards.
        eps: Added to the standard deviation.

    Raises:
        ValueError: ``eps`` is negative.
    """
    if eps < 0:
        raise ValueError(f"eps must be at least 0, not {eps}")
    r = np.asarray(rewards, dtype=float)
    if r.size < 2 or r.max() == r.min():
        return np.zeros_like(r)
    return (r - r.mean()) / (r.std() + eps)


class SoftmaxPolicy:
    """One softmax over candidates per prompt, starting uniform.

    Args:
        sizes: The number of candidates of each prompt.

    Raises:
        ValueError: A prompt has no candidates.
    """

    def __init__(self, sizes: Sequence[int]) -> None:
        if any(n < 1 for n in sizes):
            raise ValueError("every prompt needs at least one candidate")
        self.logits = [np.zeros(n) for n in sizes]
        self.start_logits = [np.zeros(n) for n in sizes]

    def probs(self, prompt: int) -> np.ndarray:
        """The policy's probabilities over one prompt's candidates."""
        return softmax(self.logits[prompt])

    def start_probs(self, prompt: int) -> np.ndarray:
        """The starting policy's probabilities over one prompt's candidates."""
        return softmax(self.start_logits[prompt])

    def sample(self, prompt: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` candidate indexes (with replacement) for one prompt."""
        return rng.choice(len(self.logits[prompt]), size=n, p=self.probs(prompt))

    def kl_to_start(self, prompt: int) -> float:
        """``KL(pi || pi_start)`` for one prompt."""
        return kl_divergence(self.probs(prompt), self.start_probs(prompt))

    def entropy(self, prompt: int) -> float:
        """The policy's entropy for one prompt."""
        return entropy(self.probs(prompt))

    def moved(self, prompt: int) -> bool:
        """Whether one prompt's logits differ at all from the start."""
        return not np.array_equal(self.logits[prompt], self.start_logits[prompt])

    def update(self, prompt: int, actions: Sequence[int], advantages: Sequence[float], *,
               learning_rate: float, kl_coef: float) -> None:
        """One policy-gradient step on one prompt's group, with the KL penalty towards the start.

        Args:
            prompt: The prompt's index.
            actions: The sampled candidate indexes.
            advantages: Their advantages (same length).
            learning_rate: Step size on the logits.
            kl_coef: Weight of the KL penalty.

        Raises:
            ValueError: ``actions`` and ``advantages`` differ in length.
        """
        if len(actions) != len(advantages):
            raise ValueError(f"{len(actions)} actions but {len(advantages)} advantages")
        if not len(actions):
            return
        p = self.probs(prompt)
        grad = np.zeros_like(p)
        for a, adv in zip(actions, advantages, strict=True):
            if adv:
                onehot = np.zeros_like(p)
                onehot[a] = 1.0
                grad += adv * (onehot - p)
        grad /= len(actions)
        if kl_coef:
            log_ratio = _log_softmax(self.logits[prompt]) - _log_softmax(self.start_logits[prompt])
            grad -= kl_coef * p * (log_ratio - float(np.sum(p * log_ratio)))
        if grad.any():
            self.logits[prompt] = self.logits[prompt] + learning_rate * grad

"""stable-baselines3 DQN and PPO on the season simulator: configs, training, evaluation and versioned artifacts.

Both agents see the same nine-number observation (`env.OBSERVATION`) and pick one of the six depths; both are
small MLPs trained on one CPU thread, so a run takes a minute or two and the benchmark can afford five seeds.

- DQN: experience replay and a target network, ε-greedy exploration decaying over the first part of training.
- PPO: clipped policy gradient on rollouts of whole seasons, GAE advantages, a little entropy bonus.

An artifact is the SB3 zip plus a JSON beside it: version, algorithm, seed, training steps, the simulator's
configuration and its hash (with the calibration's), and the evaluation numbers it was chosen on.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import stable_baselines3
import torch
from numpy.typing import NDArray
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback

from policies.rl.calibration import Calibration
from policies.rl.env import OBSERVATION, Cohort, CohortVecEnv, Draws
from policies.rl.model import Population, SimConfig
from policies.rl.planning import Constant, run_season

Algo = Literal["dqn", "ppo"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"dqn": DQN, "ppo": PPO}


@dataclass(frozen=True)
class DQNConfig:
    steps: int = 150_000
    n_envs: int = 8
    learning_rate: float = 5e-4
    buffer_size: int = 150_000
    learning_starts: int = 5_000
    batch_size: int = 256
    gamma: float = 0.99
    train_freq: int = 1  # vector steps (n_envs transitions) between updates
    n_steps: int = 1  # n-step returns
    gradient_steps: int = 1
    target_update_interval: int = 2_000  # transitions
    exploration_fraction: float = 0.3
    exploration_final_eps: float = 0.02
    net_arch: tuple[int, ...] = (64, 64)


@dataclass(frozen=True)
class PPOConfig:
    steps: int = 300_000
    n_envs: int = 32
    n_steps: int = 52  # two seasons per env per rollout
    batch_size: int = 416
    n_epochs: int = 5
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    ent_coef: float = 0.005
    net_arch: tuple[int, ...] = (64, 64)


AgentConfig = DQNConfig | PPOConfig


def default_config(algo: Algo) -> AgentConfig:
    return DQNConfig() if algo == "dqn" else PPOConfig()


@dataclass
class AgentPolicy:
    """A trained SB3 model acting greedily on a cohort (the `CohortPolicy` protocol)."""

    name: str
    model: BaseAlgorithm

    def act(self, cohort: Cohort) -> NDArray[np.int64]:
        action, _ = self.model.predict(cohort.observe(), deterministic=True)
        return np.asarray(action, dtype=np.int64)


class LearningCurve(BaseCallback):
    """Every `every` steps, the greedy agent's season profit on fixed validation customers, over no discount's.

    The same training customers and the same draws each time (common random numbers), so the curve shows what the
    agent learnt rather than which customers its last episodes happened to meet.
    """

    def __init__(self, population: Population, sim: SimConfig, every: int, seed: int, customers: int = 256) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.customers = population.subset(rng.choice(len(population), min(customers, len(population)), replace=False))
        self.sim, self.every = sim, every
        self.draws = Draws.draw(rng, self.customers, sim)
        self.baseline = run_season(Constant("none", 0), self.customers, sim, self.draws).profit.mean()
        self.steps: list[int] = []
        self.relative_profit: list[float] = []

    def _on_step(self) -> bool:
        if self.num_timesteps >= (len(self.steps) + 1) * self.every:
            profit = run_season(AgentPolicy("agent", self.model), self.customers, self.sim, self.draws).profit.mean()
            self.steps.append(self.num_timesteps)
            self.relative_profit.append(float(profit / self.baseline))
        return True


def train(
    algo: Algo,
    population: Population,
    sim: SimConfig,
    seed: int,
    config: AgentConfig | None = None,
    progress: bool = False,
) -> tuple[BaseAlgorithm, LearningCurve]:
    """Train one agent on `population` (the training customers) from `seed`; one torch thread."""
    torch.set_num_threads(1)
    config = config or default_config(algo)
    env = CohortVecEnv(population, sim, n_envs=config.n_envs, seed=seed)
    hyper = {k: v for k, v in asdict(config).items() if k not in ("steps", "n_envs", "net_arch")}
    model = ALGORITHMS[algo](
        "MlpPolicy",
        env,
        policy_kwargs={"net_arch": list(config.net_arch)},
        seed=seed,
        device="cpu",
        verbose=0,
        **hyper,
    )
    curve = LearningCurve(population, sim, every=max(config.steps // 20, 1), seed=seed)
    model.learn(total_timesteps=config.steps, callback=curve, progress_bar=progress)
    return model, curve


def version(algo: Algo, seed: int, digest: str) -> str:
    return f"rl-{algo}-{digest[:8]}-seed{seed}"


def save_artifact(
    model: BaseAlgorithm,
    algo: Algo,
    seed: int,
    config: AgentConfig,
    sim: SimConfig,
    calibration: Calibration,
    evaluation: dict,
    directory: Path = ARTIFACTS,
    name: str = "rl_discount",
) -> Path:
    """Write `name`.zip (the SB3 model) and `name`.json (what it is and how it scored); returns the JSON path."""
    directory.mkdir(parents=True, exist_ok=True)
    digest = sim.digest(calibration)
    model.save(directory / f"{name}.zip")
    metadata = {
        "version": version(algo, seed, digest),
        "algo": algo,
        "seed": seed,
        "training_steps": config.steps,
        "agent_config": asdict(config),
        "env_digest": digest,
        "sim_config": asdict(sim),
        "calibration_version": calibration.version,
        "calibration_sha256": calibration.source["sha256"],
        "observation": list(OBSERVATION),
        "depths": list(sim.depths),
        "evaluation": evaluation,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "stable_baselines3": stable_baselines3.__version__,
        "torch": torch.__version__,
    }
    path = directory / f"{name}.json"
    path.write_text(json.dumps(metadata, indent=2) + "\n")
    return path


def load_artifact(path: Path) -> tuple[BaseAlgorithm, dict]:
    """The model and metadata saved by `save_artifact`, given the JSON's path."""
    metadata = json.loads(path.read_text())
    model = ALGORITHMS[metadata["algo"]].load(path.with_suffix(".zip"), device="cpu")
    return model, metadata

"""Our Hydra launcher plugins, registered programmatically (``register()`` is called by
``launchers.hydra_app.register_configs``).

Hydra discovers third-party plugins by scanning the ``hydra_plugins`` namespace package, and only
instantiates launcher classes whose ``_target_`` starts with ``hydra_plugins.``. Our package layout is fixed,
so ``register()``:

- registers ``SageMakerLauncher`` with ``Plugins.instance().register`` (its real name) and under the alias
  ``hydra_plugins.hpo_arena.SageMakerLauncher``, the ``_target_`` of its config;
- stores the config node ``hydra/launcher=sagemaker`` in Hydra's ConfigStore.

The launchers that ship as Hydra plugins (basic, joblib, submitit_local, submitit_slurm, ray) register
themselves; ``launchers/conf/hydra/launcher/ray_local.yaml`` adds a preset for a private local Ray instance.
Options are documented in launchers/LAUNCHERS.md.
"""
from __future__ import annotations

from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins

from launchers.sagemaker_launcher import SAGEMAKER_LAUNCHER_TARGET, SageMakerLauncher, SageMakerLauncherConf


def register() -> None:
    """Make ``hydra/launcher=sagemaker`` available (idempotent)."""
    plugins = Plugins.instance()
    plugins.register(SageMakerLauncher)
    plugins.class_name_to_class[SAGEMAKER_LAUNCHER_TARGET] = SageMakerLauncher
    ConfigStore.instance().store(group="hydra/launcher", name="sagemaker", node=SageMakerLauncherConf,
                                 provider="hpo-arena")

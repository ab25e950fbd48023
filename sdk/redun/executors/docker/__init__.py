"""The ``docker`` executor: each job in a Docker container, through a scratch store.

``[executors.NAME] type = docker``, ``image = IMAGE`` and ``scratch =
PATH_OR_URL``. Each call runs ``redun oneshot`` in its own container of the
image (a local scratch bind-mounted into it), at most ``max_concurrency`` at
once; containers are labelled so a restarted scheduler finds them. Modules:
:mod:`.settings` (options), :mod:`.command` (the ``docker run`` line),
:mod:`.credentials` (what containers borrow), :mod:`.cli` (the docker
command), :mod:`.monitor` (container states, pure), :mod:`.backend`.
"""

from redun.executors.docker.executor import DockerExecutor

__all__ = ["DockerExecutor"]

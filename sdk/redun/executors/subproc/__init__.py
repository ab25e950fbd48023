"""The ``subprocess`` executor: remote execution on this machine, as a container would run it.

``[executors.NAME] type = subprocess`` and ``scratch = PATH_OR_URL``. Each job
(or array) runs as fresh processes of ``redun oneshot`` against the scratch,
in temporary directories with the code package unpacked: the local debug mode
of the cloud executors, and the proof of the shared remote layer.
"""

from redun.executors.subproc.executor import SubprocessExecutor

__all__ = ["SubprocessExecutor"]

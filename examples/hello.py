"""Hello world: two tasks, one depending on the other.

redun run hello.py main --name world
"""

from redun import task

redun_namespace = "examples.hello"


@task
def greeting(name: str) -> str:
    return f"Hello, {name}!"


@task
def shout(text: str) -> str:
    return text.upper()


@task
def main(name: str = "world") -> str:
    # Calling a task returns a lazy expression; redun runs it when needed.
    return shout(greeting(name))

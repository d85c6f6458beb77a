"""``Annotated`` dependencies: routes ask for what they need, the app state holds it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rag_chatbot.container import Container


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def _container_dependency(request: Request) -> Container:
    # ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop on
    # every request for one attribute read.
    return get_container(request)


ContainerDep = Annotated[Container, Depends(_container_dependency)]

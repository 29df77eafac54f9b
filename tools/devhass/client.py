"""A small client of Home Assistant's REST and websocket APIs (aiohttp)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import contextlib
import itertools
import time
from types import TracebackType
from typing import Any, Self

import aiohttp

ONBOARDING_STEPS = ("user", "core_config", "analytics", "integration")


class HassError(RuntimeError):
    """A request Home Assistant refused or failed."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class HassClient:
    """Home Assistant at ``url`` (``http://127.0.0.1:8123``), logged in or not."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url.rstrip("/")
        self.client_id = f"{self.url}/"
        """The OAuth client id: the frontend's, so that the tokens also suit the frontend."""
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        self.expires_at = 0.0
        """Epoch seconds when the access token expires."""

    # -- requests -------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        auth: bool = True,
        timeout: float = 60.0,  # noqa: ASYNC109 - the HTTP request's, passed to aiohttp
    ) -> Any:
        """One request; the decoded JSON body (None if empty). HassError if status >= 400."""
        headers = {}
        if auth:
            if self.access_token is None:
                raise HassError(f"{method} {path}: not logged in")
            headers["Authorization"] = f"Bearer {self.access_token}"
        async with self.session.request(
            method,
            f"{self.url}{path}",
            json=json,
            data=data,
            params=params,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            text = await response.text()
            body: Any = text
            if response.content_type == "application/json" and text:
                body = await response.json()
            if response.status >= 400:
                raise HassError(
                    f"{method} {path}: HTTP {response.status}: {text[:500]}",
                    response.status,
                    body,
                )
            return body if text else None

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return await self.request("POST", path, json=json, **kwargs)

    # -- onboarding and login -------------------------------------------------------------

    async def onboarding(self) -> dict[str, bool]:
        """Which onboarding steps are done (all of them: no onboarding API any more)."""
        try:
            steps = await self.get("/api/onboarding", auth=False)
        except HassError as err:
            if err.status == 404:  # onboarded: the onboarding integration serves nothing
                return dict.fromkeys(ONBOARDING_STEPS, True)
            raise
        return {step["step"]: bool(step["done"]) for step in steps}

    async def onboard(
        self, *, name: str, username: str, password: str, language: str = "en"
    ) -> None:
        """Finish onboarding as the frontend does, creating the owner ``username``.

        Steps already done are skipped (a first run that was interrupted), and the client is
        logged in as ``username`` at the end.
        """
        done = await self.onboarding()
        if not done.get("user"):
            result = await self.post(
                "/api/onboarding/users",
                {
                    "client_id": self.client_id,
                    "name": name,
                    "username": username,
                    "password": password,
                    "language": language,
                },
                auth=False,
            )
            await self._token({"grant_type": "authorization_code", "code": result["auth_code"]})
        else:
            await self.login(username, password)
        if not done.get("core_config"):
            await self.post("/api/onboarding/core_config")
        if not done.get("analytics"):
            await self.post("/api/onboarding/analytics")
        if not done.get("integration"):
            await self.post(
                "/api/onboarding/integration",
                {"client_id": self.client_id, "redirect_uri": f"{self.url}/?auth_callback=1"},
            )

    async def login(self, username: str, password: str) -> None:
        """Log in with the login form's flow (the ``homeassistant`` auth provider)."""
        flow = await self.post(
            "/auth/login_flow",
            {
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.url}/?auth_callback=1",
            },
            auth=False,
        )
        result = await self.post(
            f"/auth/login_flow/{flow['flow_id']}",
            {"client_id": self.client_id, "username": username, "password": password},
            auth=False,
        )
        if result.get("type") != "create_entry":
            raise HassError(f"cannot log in as {username}: {result.get('errors') or result}")
        await self._token({"grant_type": "authorization_code", "code": result["result"]})

    async def _token(self, form: dict[str, str]) -> None:
        tokens = await self.request(
            "POST", "/auth/token", data={**form, "client_id": self.client_id}, auth=False
        )
        self.access_token = tokens["access_token"]
        self.refresh_token = tokens.get("refresh_token", self.refresh_token)
        self.expires_at = time.time() + float(tokens["expires_in"])

    def frontend_tokens(self) -> dict[str, Any]:
        """The tokens as the frontend keeps them in its ``hassTokens`` local storage item."""
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": max(0, round(self.expires_at - time.time())),
            "refresh_token": self.refresh_token,
            "hassUrl": self.url,
            "clientId": self.client_id,
            "expires": round(self.expires_at * 1000),
        }

    async def wait_running(self, timeout: float = 180.0) -> dict[str, Any]:  # noqa: ASYNC109
        """Wait until Home Assistant has started (its state is RUNNING); its config."""
        async with asyncio.timeout(timeout):
            while True:
                config: dict[str, Any] = await self.get("/api/config")
                if config.get("state") == "RUNNING":
                    return config
                await asyncio.sleep(0.5)

    # -- config entries, states, actions --------------------------------------------------

    async def config_entries(self, domain: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = await self.get(
            "/api/config/config_entries/entry", params={"domain": domain}
        )
        return entries

    async def config_flow(self, handler: str, *steps: dict[str, Any]) -> dict[str, Any]:
        """Start ``handler``'s config flow and submit ``steps`` in turn; the last result.

        A menu offering ``tracker`` first (Sinotrack's "Add a tracker", shown while there are
        no location services) is answered with it; a menu offering ``finish`` after the last
        step (Sinotrack's "Finish now") is chosen.
        """
        result: dict[str, Any] = await self.post(
            "/api/config/config_entries/flow", {"handler": handler, "show_advanced_options": False}
        )
        if result.get("type") == "menu" and "tracker" in result.get("menu_options", []):
            result = await self.post(
                f"/api/config/config_entries/flow/{result['flow_id']}", {"next_step_id": "tracker"}
            )
        for step in steps:
            if result.get("type") != "form":
                raise HassError(f"config flow {handler}: expected a form, got {result}")
            result = await self.post(f"/api/config/config_entries/flow/{result['flow_id']}", step)
        if result.get("type") == "menu" and "finish" in result.get("menu_options", []):
            result = await self.post(
                f"/api/config/config_entries/flow/{result['flow_id']}", {"next_step_id": "finish"}
            )
        return result

    async def state(self, entity_id: str) -> dict[str, Any] | None:
        try:
            state: dict[str, Any] = await self.get(f"/api/states/{entity_id}")
        except HassError as err:
            if err.status == 404:
                return None
            raise
        return state

    async def call_service(
        self, domain: str, service: str, data: Mapping[str, Any], *, return_response: bool = False
    ) -> Any:
        """Call an action over REST; with ``return_response``, its response data."""
        result = await self.post(
            f"/api/services/{domain}/{service}",
            dict(data),
            params={"return_response": ""} if return_response else None,
        )
        return result["service_response"] if return_response else result

    def websocket(self) -> HassWebsocket:
        """``async with client.websocket() as ws``: the websocket API, logged in."""
        if self.access_token is None:
            raise HassError("not logged in")
        return HassWebsocket(self.session, self.url, self.access_token)


class HassWebsocket:
    """Home Assistant's websocket API: commands and event subscriptions."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        self._session = session
        self._url = f"{url.replace('http', 'ws', 1)}/api/websocket"
        self._token = token
        self._ids = itertools.count(1)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._events: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self.ha_version: str | None = None

    async def __aenter__(self) -> Self:
        ws = await self._session.ws_connect(self._url, max_msg_size=0)
        self._ws = ws
        try:
            await self._authenticate(ws)
        except BaseException:
            await ws.close()
            raise
        self._reader = asyncio.get_running_loop().create_task(self._read(ws))
        return self

    async def _authenticate(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        hello = await ws.receive_json(timeout=30)
        if hello.get("type") != "auth_required":
            raise HassError(f"websocket: unexpected greeting {hello}")
        await ws.send_json({"type": "auth", "access_token": self._token})
        answer = await ws.receive_json(timeout=30)
        if answer.get("type") != "auth_ok":
            raise HassError(f"websocket: authentication failed: {answer}")
        self.ha_version = answer.get("ha_version")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        self._fail_pending(HassError("websocket closed"))

    def _fail_pending(self, error: Exception) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                for item in _messages(message.json()):
                    self._dispatch(item)
        finally:
            self._fail_pending(HassError("websocket connection lost"))

    def _dispatch(self, item: dict[str, Any]) -> None:
        ident = item.get("id")
        if item.get("type") == "event" and isinstance(ident, int) and ident in self._events:
            self._events[ident].put_nowait(item["event"])
            return
        future = self._pending.pop(ident, None) if isinstance(ident, int) else None
        if future is None or future.done():
            return
        if item.get("success", False):
            future.set_result(item.get("result"))
        else:
            future.set_exception(HassError(f"websocket command failed: {item.get('error')}"))

    async def command(self, kind: str, timeout: float = 60.0, **payload: Any) -> Any:  # noqa: ASYNC109
        """Send one command (``config/device_registry/list``...); its result."""
        if self._ws is None:
            raise HassError("websocket not connected")
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        await self._ws.send_json({"id": ident, "type": kind, **payload})
        async with asyncio.timeout(timeout):
            return await future

    async def subscribe_events(
        self, event_type: str | None = None
    ) -> asyncio.Queue[dict[str, Any]]:
        """Subscribe to the bus' events (all of them when None); a queue that receives them."""
        if self._ws is None:
            raise HassError("websocket not connected")
        ident = next(self._ids)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._events[ident] = queue
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        payload: dict[str, Any] = {"id": ident, "type": "subscribe_events"}
        if event_type is not None:
            payload["event_type"] = event_type
        await self._ws.send_json(payload)
        async with asyncio.timeout(60):
            await future
        return queue


def _messages(data: Any) -> list[dict[str, Any]]:
    """Home Assistant may pack several messages into one frame (a JSON list)."""
    if isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    return [data] if isinstance(data, dict) else []

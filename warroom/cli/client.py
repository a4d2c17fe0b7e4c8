"""The CLI's HTTP client for the warroom API (WARROOM_URL, WARROOM_TOKEN)."""

from __future__ import annotations

import json
from typing import Any

import click
import httpx

from warroom import settings


class ApiError(click.ClickException):
    def __init__(self, status: int, body: Any) -> None:
        message = (
            (body.get("error") or body.get("detail") or body) if isinstance(body, dict) else body
        )
        message = str(message).strip() or "request failed"
        super().__init__(f"{message} (HTTP {status})")
        self.status = status
        self.body = body


class Client:
    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        self.url = (url or settings.api_url()).rstrip("/")
        self.token = token or settings.api_token()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if not self.token:
            raise click.ClickException(
                "WARROOM_TOKEN is not set; create one with `warroom token create --role responder`"
            )
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            resp = httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)
        except httpx.HTTPError as exc:
            raise click.ClickException(f"cannot reach warroom at {self.url}: {exc}") from exc
        try:
            body = resp.json()
        except json.JSONDecodeError:
            body = resp.text
        if resp.status_code >= 400:
            raise ApiError(resp.status_code, body)
        return body

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

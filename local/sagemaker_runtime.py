"""Local stand-in for SageMaker Runtime's InvokeEndpoint that runs blueprints' own ``inference.py``.

moto server has no SageMaker Runtime, so a laptop run of a blueprint's request path points the
Node.js SDK here (``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:PORT``). Each endpoint has
one or more production variants; each variant is a handler folder (``code_dir``, the folder of an
``inference.py``) and a model folder (``model_dir``, what ``model.tar.gz`` would unpack to).

Wire protocol (botocore's sagemaker-runtime 2017-05-13 model, rest-json):
  - ``POST /endpoints/{EndpointName}/invocations``: the body is the payload; ``Content-Type``,
    ``Accept`` and ``X-Amzn-SageMaker-Target-Variant`` headers. The answer is the model's body with
    its ``Content-Type`` and the ``x-Amzn-Invoked-Production-Variant`` header.
  - Errors: ``x-amzn-ErrorType`` header and a JSON body. ``ValidationError`` (400) for an unknown
    endpoint or variant; ``ModelError`` (424) when the model fails, with the members
    ``OriginalStatusCode``, ``OriginalMessage`` and ``LogStreamArn``; ``ModelNotReadyException``
    (429) while models load.

The SageMaker container contract is served too, for the default model (the first variant of the
first endpoint): ``GET /ping`` (200 once every model is loaded, 503 before) and ``POST /invocations``
(the container's own answer: 400 for a ValueError, 500 for other errors, the message as text).

Per request, as SageMaker's scikit-learn container (sagemaker-containers) does: the content type
defaults to ``application/json``; an absent or ``*/*`` Accept becomes ``application/json``; JSON and
CSV bodies reach ``input_fn`` as ``str``, others as ``bytes``; ``output_fn`` returns ``(body,
content_type)`` or a bare body, which is answered with the Accept as content type. A handler may
define ``transform_fn(model, body, content_type, accept)`` instead of the three functions.

Deliberate difference: the scikit-learn container answers an exception from these functions with
a 500 (sagemaker-containers wraps them in its ClientError, and reported ModelErrors of such
containers read "Received server error (500)"); here a ``ValueError`` (the handlers' way to
reject a request) becomes a client error (400), so that a bad request and a broken model look
different in a local run. Other exceptions stay 500s, with a generic message (the traceback goes
to stderr, as the container's goes to CloudWatch).

Threads: one server thread per connection, and one model object per variant shared by all of them.
That is safe because the handlers only read their model at predict time (they build per-request
arrays and never mutate the loaded model); a handler that caches into its model must lock.

Usage:
  python local/sagemaker_runtime.py --config endpoints.json --port 0
  python local/sagemaker_runtime.py --variant ranker AllTraffic CODE_DIR MODEL_DIR [WEIGHT] --port 0
prints ``{"port": N}`` on stdout once models are loaded and the port accepts connections; SIGTERM stops it.

Configuration (paths relative to the file's folder)::

    {"region": "eu-west-1", "account": "000000000000", "seed": 7,
     "endpoints": {"ranker": {"latency_ms": 20,
                              "variants": {"champion": {"code_dir": "...", "model_dir": "...", "weight": 0.9},
                                           "challenger": {"code_dir": "...", "model_dir": "...", "weight": 0.1}}}}}

The ``endpoints`` mapping may also be the whole document. ``weight`` defaults to 1; a variant with
weight 0 is reached only by naming it. ``latency_ms`` is added to every invocation of the endpoint
(latency experiments). ``seed`` makes the weighted variant choice reproducible.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import random
import re
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Mapping, Sequence

import stand_in_http
from stand_in_http import ServiceError, StandInHandler, StandInServer, constraint_error, validation_error

HERE = os.path.dirname(os.path.abspath(__file__))
# serving_io.py and the other modules the handlers share; train.py copies them beside the handler
# in model.tar.gz, which a code_dir may do too (its own copy then wins, as in the container).
SHARED_PYTHON = os.path.normpath(os.path.join(HERE, "..", "lib", "python"))

PROGRAM = "inference.py"  # SAGEMAKER_PROGRAM of every blueprint
CONTAINER = "primary"  # the container name SageMaker puts in ModelError messages of single-container models
JSON = "application/json"
UTF8_TYPES = (JSON, "text/csv")  # sagemaker-containers decodes exactly these content types to str
MAX_BODY_BYTES = 6 * 1024 * 1024  # BodyBlob max in the service model (6 MB)
NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")  # EndpointName and TargetVariantHeader
NAME_MAX = 63


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantConfig:
    name: str
    code_dir: str
    model_dir: str
    weight: float = 1.0


@dataclass(frozen=True)
class EndpointConfig:
    name: str
    variants: tuple[VariantConfig, ...]
    latency_ms: float = 0.0


@dataclass(frozen=True)
class RuntimeConfig:
    endpoints: tuple[EndpointConfig, ...]
    region: str = "eu-west-1"
    account: str = "000000000000"
    seed: int | None = None


class ConfigError(ValueError):
    """The configuration is malformed; the message names the endpoint, variant and key."""


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or len(name) > NAME_MAX or not NAME_PATTERN.fullmatch(name):
        raise ConfigError(f"{kind} {name!r}: 1-{NAME_MAX} letters, digits and hyphens, not at either end")


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
        raise ConfigError(f"{what} must be a finite number >= 0, but {value!r} was found")
    return float(value)


def parse_config(document: Mapping[str, Any], base_dir: str = ".") -> RuntimeConfig:
    """Checks a configuration document; relative folders are resolved against ``base_dir``."""
    if not isinstance(document, Mapping):
        raise ConfigError("the configuration must be a JSON object")
    endpoints_doc = document.get("endpoints", document)
    if not isinstance(endpoints_doc, Mapping) or not endpoints_doc:
        raise ConfigError("endpoints must map at least one endpoint name to {variants: {...}}")
    endpoints = []
    for endpoint_name, endpoint_doc in endpoints_doc.items():
        _check_name("endpoint", endpoint_name)
        if not isinstance(endpoint_doc, Mapping) or not isinstance(endpoint_doc.get("variants"), Mapping):
            raise ConfigError(f"endpoint {endpoint_name!r}: expected {{variants: {{name: {{code_dir, model_dir}}}}}}")
        variants = []
        for variant_name, variant_doc in endpoint_doc["variants"].items():
            _check_name(f"endpoint {endpoint_name!r}: variant", variant_name)
            where = f"endpoint {endpoint_name!r}, variant {variant_name!r}"
            if not isinstance(variant_doc, Mapping):
                raise ConfigError(f"{where}: expected {{code_dir, model_dir, weight}}")
            folders = []
            for key in ("code_dir", "model_dir"):
                value = variant_doc.get(key)
                if not isinstance(value, str) or not value:
                    raise ConfigError(f"{where}: {key} is required")
                folder = os.path.normpath(os.path.join(base_dir, value))
                if not os.path.isdir(folder):
                    raise ConfigError(f"{where}: {key} {folder!r} is not a folder")
                folders.append(folder)
            if not os.path.isfile(os.path.join(folders[0], PROGRAM)):
                raise ConfigError(f"{where}: {folders[0]!r} has no {PROGRAM}")
            weight = _number(variant_doc.get("weight", 1.0), f"{where}: weight")
            variants.append(VariantConfig(variant_name, folders[0], folders[1], weight))
        if not variants:
            raise ConfigError(f"endpoint {endpoint_name!r}: at least one variant is required")
        if sum(v.weight for v in variants) <= 0:
            raise ConfigError(f"endpoint {endpoint_name!r}: the variants' weights must not all be 0")
        latency = _number(endpoint_doc.get("latency_ms", 0), f"endpoint {endpoint_name!r}: latency_ms")
        endpoints.append(EndpointConfig(endpoint_name, tuple(variants), latency))
    seed = document.get("seed") if "endpoints" in document else None
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigError(f"seed must be an integer, but {seed!r} was found")
    region = document.get("region", "eu-west-1") if "endpoints" in document else "eu-west-1"
    account = document.get("account", "000000000000") if "endpoints" in document else "000000000000"
    return RuntimeConfig(tuple(endpoints), str(region), str(account), seed)


def load_config(path: str) -> RuntimeConfig:
    with open(path, encoding="utf-8") as f:
        return parse_config(json.load(f), os.path.dirname(os.path.abspath(path)))


# ---------------------------------------------------------------------------------------------
# Handler loading
# ---------------------------------------------------------------------------------------------


def _module_file(module: ModuleType) -> str | None:
    path = getattr(module, "__file__", None)
    return os.path.realpath(path) if isinstance(path, str) else None


def _inside(path: str | None, folder: str) -> bool:
    return path is not None and path.startswith(folder + os.sep)


def _folder_module_names(folder: str) -> list[str]:
    names = []
    for entry in os.listdir(folder):
        if entry.endswith(".py"):
            names.append(entry[:-3])
        elif os.path.isfile(os.path.join(folder, entry, "__init__.py")):
            names.append(entry)
    return names


class _HandlerFolder:
    """Imports a code_dir's inference.py as its container would, apart from every other code_dir.

    In the container the handler's folder comes first on sys.path. Here several folders share one
    process: each blueprint's handler is named inference.py, and two versions of one blueprint (a
    champion and a challenger) have sibling modules of the same name. So while a folder is entered,
    it is first on sys.path and the modules of the same names that other folders loaded are set
    aside; on exit the folder's own modules leave sys.modules (the handler keeps its references)
    and the others come back. model_fn runs inside too: unpickling may import sibling modules.
    Modules a handler imports lazily at predict time are therefore not supported.
    """

    _lock = threading.Lock()

    def __init__(self, code_dir: str) -> None:
        self.folder = os.path.realpath(code_dir)
        digest = hashlib.sha1(self.folder.encode("utf-8")).hexdigest()[:10]
        base = re.sub(r"\W", "_", os.path.basename(self.folder))
        self.module_name = f"local_inference_{base}_{digest}"

    def __enter__(self) -> _HandlerFolder:
        self._lock.acquire()
        try:
            own_names = _folder_module_names(self.folder)
        except OSError:
            self._lock.release()
            raise
        self._set_aside: dict[str, ModuleType] = {}
        for name in own_names:
            module = sys.modules.get(name)
            if module is not None and not _inside(_module_file(module), self.folder):
                self._set_aside[name] = sys.modules.pop(name)
        self._before = set(sys.modules)
        sys.path.insert(0, self.folder)
        if SHARED_PYTHON not in sys.path:
            sys.path.append(SHARED_PYTHON)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            sys.path.remove(self.folder)
            for name in set(sys.modules) - self._before:
                if name != self.module_name and _inside(_module_file(sys.modules[name]), self.folder):
                    del sys.modules[name]
            sys.modules.update(self._set_aside)
        finally:
            self._lock.release()

    def import_handler(self) -> ModuleType:
        """The handler module, imported once per folder under a name of its own."""
        if self.module_name in sys.modules:
            return sys.modules[self.module_name]
        spec = importlib.util.spec_from_file_location(self.module_name, os.path.join(self.folder, PROGRAM))
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {os.path.join(self.folder, PROGRAM)}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[self.module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[self.module_name]
            raise
        has_steps = all(callable(getattr(module, f, None)) for f in ("input_fn", "predict_fn", "output_fn"))
        if not callable(getattr(module, "model_fn", None)):
            raise ImportError(f"{module.__file__}: model_fn is missing")
        if not has_steps and not callable(getattr(module, "transform_fn", None)):
            raise ImportError(f"{module.__file__}: needs input_fn, predict_fn and output_fn, or transform_fn")
        return module


@dataclass
class LoadedVariant:
    config: VariantConfig
    handler: ModuleType
    model: Any


class ModelFailureError(Exception):
    """The handler failed: what the container would answer (status and message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _encode(body: object) -> bytes:
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    raise TypeError(f"output_fn returned a body of type {type(body).__name__}; expected str or bytes")


def run_handler(variant: LoadedVariant, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
    """One request through the handler as the container runs it: (body, content type) or ModelFailureError."""
    content_type = content_type or JSON
    accept = JSON if not accept or accept == "*/*" else accept
    handler = variant.handler
    try:
        data: object = body.decode("utf-8") if content_type in UTF8_TYPES else body
        transform = getattr(handler, "transform_fn", None)
        if callable(transform) and not callable(getattr(handler, "input_fn", None)):
            result = transform(variant.model, data, content_type, accept)
        else:
            result = handler.output_fn(handler.predict_fn(handler.input_fn(data, content_type), variant.model), accept)
        if isinstance(result, tuple):
            return _encode(result[0]), str(result[1])
        return _encode(result), accept
    except ValueError as error:  # the handlers' way to reject a request (UnicodeDecodeError included)
        raise ModelFailureError(400, str(error) or type(error).__name__) from error
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        raise ModelFailureError(500, f"Internal server error: the model raised {type(error).__name__}") from error


# ---------------------------------------------------------------------------------------------
# The runtime: endpoints, variants, routing
# ---------------------------------------------------------------------------------------------


class Runtime:
    """The loaded endpoints; thread-safe once ``load()`` has returned."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.endpoints = {e.name: e for e in config.endpoints}
        self.variants: dict[tuple[str, str], LoadedVariant] = {}
        self.loaded = threading.Event()
        self._random = random.Random(config.seed)
        self._random_lock = threading.Lock()

    def load(self) -> None:
        """Imports each handler folder once and calls model_fn once per variant."""
        by_folder: dict[str, list[tuple[str, VariantConfig]]] = {}
        for endpoint in self.config.endpoints:
            for variant in endpoint.variants:
                by_folder.setdefault(os.path.realpath(variant.code_dir), []).append((endpoint.name, variant))
        for folder, variants in by_folder.items():
            with _HandlerFolder(folder) as handler_folder:
                try:
                    handler = handler_folder.import_handler()
                except Exception as error:
                    raise RuntimeError(f"{os.path.join(folder, PROGRAM)} failed to import: {error!r}") from error
                for endpoint_name, variant in variants:
                    try:
                        model = handler.model_fn(variant.model_dir)
                    except Exception as error:
                        where = f"endpoint {endpoint_name}, variant {variant.name}"
                        raise RuntimeError(f"{where}: model_fn({variant.model_dir!r}) failed: {error!r}") from error
                    self.variants[(endpoint_name, variant.name)] = LoadedVariant(variant, handler, model)
        self.loaded.set()

    @property
    def default_variant(self) -> LoadedVariant:
        first = self.config.endpoints[0]
        return self.variants[(first.name, first.variants[0].name)]

    def choose_variant(self, endpoint: EndpointConfig, target: str | None) -> LoadedVariant:
        if target is not None:
            if len(target) > NAME_MAX or not NAME_PATTERN.fullmatch(target):
                raise constraint_error(
                    target,
                    "targetVariant",
                    f"Member must satisfy regular expression pattern: "
                    f"^[a-zA-Z0-9](-*[a-zA-Z0-9])* and length <= {NAME_MAX}",
                )
            if not any(v.name == target for v in endpoint.variants):
                raise validation_error(f"The variant {target} does not exist in endpoint {endpoint.name}.")
            return self.variants[(endpoint.name, target)]
        names = [v.name for v in endpoint.variants]
        with self._random_lock:
            name = self._random.choices(names, weights=[v.weight for v in endpoint.variants])[0]
        return self.variants[(endpoint.name, name)]

    def _log_group(self, endpoint: str) -> str:
        return f"/aws/sagemaker/Endpoints/{endpoint}"

    def model_error(self, endpoint: str, failure: ModelFailureError) -> ServiceError:
        """ModelError as SageMaker reports a container's error answer (wording from real responses)."""
        region, account = self.config.region, self.config.account
        kind = "client" if failure.status < 500 else "server"
        console = (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#logEventViewer:group={self._log_group(endpoint)}"
        )
        message = (
            f'Received {kind} error ({failure.status}) from {CONTAINER} with message "{failure.message}". '
            f"See {console} in account {account} for more information."
        )
        return ServiceError(
            "ModelError",
            424,
            message,
            OriginalStatusCode=failure.status,
            OriginalMessage=failure.message,
            LogStreamArn=f"arn:aws:logs:{region}:{account}:log-group:{self._log_group(endpoint)}",
        )

    def invoke(
        self, endpoint_name: str, body: bytes, content_type: str | None, accept: str | None, target: str | None
    ) -> tuple[bytes, str, str]:
        """InvokeEndpoint: (body, content type, invoked variant) or a ServiceError."""
        if len(endpoint_name) > NAME_MAX or not NAME_PATTERN.fullmatch(endpoint_name):
            raise constraint_error(
                endpoint_name,
                "endpointName",
                f"Member must satisfy regular expression pattern: "
                f"^[a-zA-Z0-9](-*[a-zA-Z0-9])* and length <= {NAME_MAX}",
            )
        if len(body) > MAX_BODY_BYTES:
            raise constraint_error(
                f"<{len(body)} bytes>", "body", f"Member must have length less than or equal to {MAX_BODY_BYTES}"
            )
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            raise validation_error(f"Endpoint {endpoint_name} of account {self.config.account} not found.")
        if not self.loaded.is_set():
            raise ServiceError("ModelNotReadyException", 429, f"Endpoint {endpoint_name}: the models are still loading")
        variant = self.choose_variant(endpoint, target)
        if endpoint.latency_ms > 0:
            time.sleep(endpoint.latency_ms / 1000.0)
        try:
            answer, answer_type = run_handler(variant, body, content_type, accept)
        except ModelFailureError as failure:
            raise self.model_error(endpoint_name, failure) from failure
        return answer, answer_type, variant.config.name


class RuntimeHandler(StandInHandler):
    server: RuntimeServer
    max_body_bytes = MAX_BODY_BYTES + 1  # one byte over, so that InvokeEndpoint can say what was too large

    def route(self, method: str, segments: tuple[str, ...], query: str, body: bytes) -> None:
        runtime = self.server.runtime
        if method == "POST" and len(segments) == 3 and segments[0] == "endpoints" and segments[2] == "invocations":
            answer, answer_type, variant = runtime.invoke(
                segments[1],
                body,
                self.headers.get("Content-Type"),
                self.headers.get("Accept"),
                self.headers.get("X-Amzn-SageMaker-Target-Variant"),
            )
            self.send_bytes(200, answer, answer_type, {"x-Amzn-Invoked-Production-Variant": variant})
        elif method == "GET" and segments == ("ping",):
            ready = runtime.loaded.is_set()
            self.send_bytes(200 if ready else 503, b"" if ready else b"loading\n", "text/plain")
        elif method == "POST" and segments == ("invocations",):
            if not runtime.loaded.is_set():
                self.send_bytes(503, b"the model is still loading\n", "text/plain")
                return
            try:
                answer, answer_type = run_handler(
                    runtime.default_variant, body, self.headers.get("Content-Type"), self.headers.get("Accept")
                )
            except ModelFailureError as failure:
                self.send_bytes(failure.status, failure.message.encode("utf-8"), "text/plain; charset=utf-8")
                return
            self.send_bytes(200, answer, answer_type)
        else:
            super().route(method, segments, query, body)


class RuntimeServer(StandInServer):
    def __init__(self, runtime: Runtime, host: str = "127.0.0.1", port: int = 0, quiet: bool = False) -> None:
        self.runtime = runtime
        super().__init__((host, port), RuntimeHandler, quiet)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def config_from_args(variants: Sequence[Sequence[str]], latencies: Sequence[Sequence[str]]) -> RuntimeConfig:
    """``--variant ENDPOINT VARIANT CODE_DIR MODEL_DIR [WEIGHT]`` and ``--latency-ms ENDPOINT MS`` as a config."""
    endpoints: dict[str, dict[str, Any]] = {}
    for spec in variants:
        if len(spec) not in (4, 5):
            raise ConfigError("--variant takes ENDPOINT VARIANT CODE_DIR MODEL_DIR [WEIGHT]")
        try:
            weight = float(spec[4]) if len(spec) == 5 else 1.0
        except ValueError as error:
            raise ConfigError(f"--variant {' '.join(spec)}: WEIGHT must be a number") from error
        entry = endpoints.setdefault(spec[0], {"variants": {}})
        entry["variants"][spec[1]] = {"code_dir": spec[2], "model_dir": spec[3], "weight": weight}
    for endpoint, milliseconds in latencies:
        if endpoint not in endpoints:
            raise ConfigError(f"--latency-ms {endpoint}: no --variant declares that endpoint")
        try:
            endpoints[endpoint]["latency_ms"] = float(milliseconds)
        except ValueError as error:
            raise ConfigError(f"--latency-ms {endpoint}: MS must be a number") from error
    return parse_config({"endpoints": endpoints}, os.getcwd())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--config", help="JSON file: endpoints -> variants -> {code_dir, model_dir, weight}")
    parser.add_argument(
        "--variant",
        nargs="+",
        action="append",
        default=[],
        metavar="ARG",
        help="ENDPOINT VARIANT CODE_DIR MODEL_DIR [WEIGHT] (repeatable)",
    )
    parser.add_argument("--latency-ms", nargs=2, action="append", default=[], metavar=("ENDPOINT", "MS"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--quiet", action="store_true", help="no request log on stderr")
    args = parser.parse_args(argv)
    if bool(args.config) == bool(args.variant):
        parser.error("give either --config or --variant")
    try:
        config = load_config(args.config) if args.config else config_from_args(args.variant, args.latency_ms)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    runtime = Runtime(config)
    try:
        runtime.load()  # before the port line: a parent that reads it can invoke at once
    except Exception:
        traceback.print_exc(file=sys.stderr)
        return 1  # no port line: the parent sees end of file
    server = RuntimeServer(runtime, args.host, args.port, args.quiet)
    return stand_in_http.run_until_signalled(server)


if __name__ == "__main__":
    sys.exit(main())

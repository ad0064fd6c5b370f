"""Connections to PACS and EHR: ``send``, ``fetch``, ``gateway``, and ``validate`` on a Dask
cluster (:mod:`icans_interop.net`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from icans_interop.cli.app import EXIT_INVALID, EXIT_USAGE, app, err, fail, out
from icans_interop.cli.show import TextOrJson
from icans_interop.formats import FhirVersionIn, Profile

if TYPE_CHECKING:
    from icans_interop.net.transfer import TransferResult
    from icans_interop.validation.result import ValidationResult



TokenEnv = Annotated[str | None, typer.Option(
    "--token-env", help="Read a bearer token from this environment variable.")]
TokenFile = Annotated[Path | None, typer.Option(
    "--token-file", help="Read a bearer token from this file.")]


def _token(env_var: str | None, path: Path | None) -> str | None:
    from icans_interop.net.fhir_rest import TokenError, load_token

    try:
        return load_token(env_var, path)
    except TokenError as exc:
        fail(str(exc), EXIT_USAGE)


def _print_transfers(results: list[TransferResult], fmt: TextOrJson) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps([r.to_dict() for r in results], indent=2,
                                    ensure_ascii=False) + "\n")
    else:
        for result in results:
            out.print(result.to_text())
        refused = sum(not r.ok for r in results)
        out.print(f"{len(results) - refused} of {len(results)} files ok"
                  + (f", {refused} refused" if refused else ""))
    if any(not r.ok for r in results):
        raise typer.Exit(EXIT_INVALID)


@app.command(rich_help_panel="Connections")
def send(
    files: Annotated[list[Path], typer.Argument(help="DICOM SR files, or FHIR Bundles (JSON) "
                                                    "with --fhir.")],
    dicomweb: Annotated[str | None, typer.Option(help="STOW-RS to this DICOMweb base URL.")]
    = None,
    dimse: Annotated[str | None, typer.Option(help="C-STORE to AET@HOST:PORT.")] = None,
    fhir_url: Annotated[str | None, typer.Option("--fhir", help="POST to this FHIR base URL.")]
    = None,
    calling_aet: Annotated[str, typer.Option(help="Our AE title (with --dimse).")] =
    "ICANS_INTEROP",
    batch_size: Annotated[int, typer.Option(min=1, max=1000,
                                            help="Files per STOW-RS request.")] = 20,
    profile: Annotated[Profile, typer.Option(help="Validate with this profile first; files "
                                                  "with errors are not sent.")] = "icans",
    fhir_version: Annotated[FhirVersionIn, typer.Option(help="FHIR version of bundles.")] =
    "auto",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only; send nothing.")]
    = False,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds per request.")] = 60.0,
    retries: Annotated[int, typer.Option(min=1, max=20, help="Attempts per FHIR request "
                                                             "on transient errors.")] = 5,
    token_env: TokenEnv = None,
    token_file: TokenFile = None,
    fmt: Annotated[TextOrJson, typer.Option("--format", help="Output format.")] =
    "text",
) -> None:
    """Send SRs to a PACS (STOW-RS, C-STORE) or bundles to a FHIR server; exit 1 if refused.

    Every file is validated first; one with errors is not sent. A file counts as refused
    when validation or the peer refused it.
    """
    if sum(x is not None for x in (dicomweb, dimse, fhir_url)) != 1:
        fail("give exactly one of --dicomweb, --dimse and --fhir", EXIT_USAGE)
    missing = [p for p in files if not p.is_file()]
    if missing:
        fail(f"{missing[0]}: no such file")
    token = _token(token_env, token_file)
    if fhir_url is not None:
        results = _send_fhir(files, fhir_url, profile, fhir_version, dry_run, timeout, retries,
                             token)
    elif dry_run:
        from icans_interop.net.prepare import prepare_files
        from icans_interop.net.transfer import TransferResult

        results = [p.refusal or TransferResult(p.label, True, "not-sent", "valid (dry run)",
                                               p.sop_instance_uid)
                   for p in prepare_files(files, profile)]
    elif dicomweb is not None:
        from icans_interop.net import dicomweb as web

        results = web.stow(files, dicomweb, batch_size=batch_size, token=token,
                           timeout=timeout, profile=profile)
    else:
        from icans_interop.net import dimse as dimse_net

        assert dimse is not None
        try:
            peer = dimse_net.parse_address(dimse)
            dimse_net.check_ae_title(calling_aet)
        except dimse_net.AddressError as exc:
            fail(str(exc), EXIT_USAGE)
        results = dimse_net.c_store(files, peer, calling_aet=calling_aet, timeout=timeout,
                                    profile=profile)
    _print_transfers(results, fmt)


def _send_fhir(files: list[Path], url: str, profile: Profile, fhir_version: FhirVersionIn,
               dry_run: bool, timeout: float, retries: int, token: str | None
               ) -> list[TransferResult]:
    from icans_interop import sources
    from icans_interop.net.fhir_rest import FhirClient, RetryPolicy
    from icans_interop.net.transfer import TransferResult
    from icans_interop.validation.fhir import validate_fhir
    from icans_interop.validation.fhir_json import MAX_BYTES

    results: list[TransferResult] = []
    with FhirClient(url, token=token, timeout=timeout,
                    retry=RetryPolicy(attempts=retries)) as client:
        for path in files:
            # read once: the bytes validated are the bytes sent (the validator reports a
            # file that cannot be read)
            try:
                data: bytes | Path = sources.read_bytes(path, MAX_BYTES, json_text=False)
            except sources.SourceError:
                data = path
            checked = validate_fhir(data, version=fhir_version, profile=profile,
                                    file_label=str(path))
            errors = tuple(i for i in checked.sorted_issues() if i.severity == "error")
            if errors:
                results.append(TransferResult(str(path), False, "not-sent",
                                              f"{len(errors)} validation errors; not sent",
                                              issues=errors))
                continue
            if dry_run:
                results.append(TransferResult(str(path), True, "not-sent", "valid (dry run)"))
                continue
            assert isinstance(data, bytes)  # a file that could not be read is not valid
            answer = client.send_bundle(data)
            problems = tuple(i for i in answer.issues if i.severity != "information")
            results.append(TransferResult(
                str(path), answer.ok, str(answer.status) if answer.status else "no answer",
                f"after {answer.attempts} attempts" if answer.attempts > 1 else "",
                issues=problems))
    return results


@app.command(rich_help_panel="Connections")
def fetch(
    dicomweb: Annotated[str, typer.Option(help="DICOMweb base URL (QIDO-RS and WADO-RS).")],
    study: Annotated[str, typer.Option(help="Study Instance UID.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder to write into.")],
    series: Annotated[str | None, typer.Option(help="Only this Series Instance UID.")] = None,
    include_all: Annotated[bool, typer.Option("--all", help="Every instance, not only SRs.")]
    = False,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds per request.")] = 60.0,
    token_env: TokenEnv = None,
    token_file: TokenFile = None,
    fmt: Annotated[TextOrJson, typer.Option("--format", help="Output format.")] =
    "text",
) -> None:
    """Fetch a study's (or series') SR instances from a PACS over DICOMweb."""
    from icans_interop.model import is_dicom_uid
    from icans_interop.net import dicomweb as web

    for label, uid in (("--study", study), ("--series", series)):
        if uid is not None and not is_dicom_uid(uid):
            fail(f"{label} {uid!r} is not a DICOM UID", EXIT_USAGE)
    if not output.is_dir():
        fail(f"cannot write into {output}: no such directory (directories are not created)",
             EXIT_USAGE)
    token = _token(token_env, token_file)
    results = web.fetch(dicomweb, study, output, series=series, include_all=include_all,
                        token=token, timeout=timeout)
    if not results:
        err.print(f"study {study}: no {'instances' if include_all else 'SR instances'} found")
    _print_transfers(results, fmt)


@app.command(rich_help_panel="Connections")
def gateway(
    listen: Annotated[str, typer.Option(help="Our AE title and address: AET@HOST:PORT "
                                             "(AET@PORT binds to loopback).")],
    fhir_url: Annotated[str, typer.Option("--fhir", help="FHIR base URL of the EHR.")],
    spool: Annotated[Path, typer.Option(help="Spool folder (received, not yet sent).")],
    quarantine: Annotated[Path, typer.Option(help="Quarantine folder (refused, with "
                                                  "OperationOutcome).")],
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker threads.")] = 2,
    queue_size: Annotated[int, typer.Option("--queue", min=1, max=100_000,
                                            help="Work queue length.")] = 64,
    max_pdu: Annotated[int, typer.Option(min=0, max=(1 << 32) - 1,
                                         help="Largest PDU we accept (bytes; 0 = no limit).")]
    = 65536,
    max_associations: Annotated[int, typer.Option(min=1, max=1000,
                                                  help="Simultaneous associations.")] = 8,
    max_dataset_mb: Annotated[float, typer.Option(min=0.01, max=4096,
                                                  help="Largest dataset accepted (MiB).")]
    = 64.0,
    max_spooled: Annotated[int, typer.Option(min=1, help="Refuse new files (0xA700) past "
                                                         "this many in the spool.")] = 10_000,
    allow_aet: Annotated[list[str] | None, typer.Option(
        help="Accept associations only from this calling AE title (repeatable).")] = None,
    allow_fhir: Annotated[list[str] | None, typer.Option(
        help="Refuse to start unless --fhir is this base URL or below it (repeatable).")]
    = None,
    profile: Annotated[Profile, typer.Option(help="Validation profile.")] = "icans",
    timeout: Annotated[float, typer.Option(min=1, help="Network and FHIR timeout (s).")] =
    60.0,
    retry_max: Annotated[float, typer.Option(min=1, help="Longest wait between two tries "
                                                         "of one file (s).")] = 300.0,
    log: Annotated[Path | None, typer.Option(help="Append JSON log lines here (default: "
                                                  "standard error).")] = None,
    token_env: TokenEnv = None,
    token_file: TokenFile = None,
) -> None:
    """Run the SR-to-FHIR gateway: C-STORE in, validate, convert, POST to the EHR.

    Nothing acknowledged is lost (spool, drained on start); nothing invalid is sent
    (quarantine, with an OperationOutcome). SIGTERM stops it gracefully.
    """
    from icans_interop.net import dimse as dimse_net
    from icans_interop.net.gateway import Gateway, GatewayConfig, GatewayError
    from icans_interop.net.spool import SpoolError

    try:
        address = dimse_net.parse_address(listen)
        for aet in allow_aet or []:
            dimse_net.check_ae_title(aet)
    except dimse_net.AddressError as exc:
        fail(str(exc), EXIT_USAGE)
    config = GatewayConfig(
        listen=address, fhir_url=fhir_url, spool_dir=spool, quarantine_dir=quarantine,
        token=_token(token_env, token_file), profile=profile, workers=workers,
        queue_size=queue_size, max_pdu=max_pdu, max_associations=max_associations,
        max_dataset_bytes=int(max_dataset_mb * 1024 * 1024), max_spooled=max_spooled,
        allowed_calling_aets=tuple(allow_aet or ()), allowed_fhir_urls=tuple(allow_fhir or ()),
        network_timeout=timeout, fhir_timeout=timeout, retry_max=retry_max)
    stream = None
    try:
        stream = log.open("a", encoding="utf-8") if log is not None else None
        Gateway(config, log=stream).serve()
    except (GatewayError, SpoolError) as exc:
        fail(str(exc), EXIT_USAGE)
    except OSError as exc:  # the port is taken, a folder is not writable...
        fail(f"cannot run the gateway: {exc}", EXIT_USAGE)
    finally:
        if stream is not None:
            stream.close()


def validate_on_cluster(paths: list[str], scheduler: str, profile: Profile,
                        fhir_version: FhirVersionIn, include: list[str], exclude: list[str]
                        ) -> list[ValidationResult]:
    """Validate on a Dask cluster: local paths (shared storage) or fsspec URLs; a missing
    path is an entry with its issue, like a local batch."""
    from icans_interop.net import batch
    from icans_interop.validation import runner
    from icans_interop.validation.result import ValidationResult

    urls = [s for s in paths if batch.is_url(s)]
    local, missing_local = runner.collect([Path(s).resolve() for s in paths
                                           if not batch.is_url(s)],
                                          include=include, exclude=exclude)
    remote, missing_remote = batch.collect_urls(urls) if urls else ([], [])
    missing = [str(p) for p in missing_local] + list(missing_remote)
    results = [ValidationResult(source, "missing", (runner.missing_issue(source),))
               for source in missing]
    if not local and not remote and not results:
        fail("no files to validate (all excluded?)", EXIT_USAGE)
    try:
        with batch.dask_executor(scheduler) as executor:
            results += runner.validate_many(local, profile=profile,
                                            fhir_version=fhir_version, executor=executor)
            results += batch.validate_urls(remote, executor, profile=profile,
                                           fhir_version=fhir_version)
    except OSError as exc:  # scheduler unreachable (distributed raises OSError/TimeoutError)
        fail(f"Dask scheduler {scheduler}: {exc}", EXIT_USAGE)
    return results

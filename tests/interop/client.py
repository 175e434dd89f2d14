#!/usr/bin/env python3
"""An independent client of juesuan: Python stubs generated from proto/ at run time (grpcio-tools' own protoc),
the reference fixture read with protobuf's JSON parser, a token issued by the administrator, a Submit as the unit,
a bad input, a call without credentials, and a reflection listing.

    client.py HOST:PORT PROTO_DIR FIXTURE_JSON ADMIN_TOKEN

Prints one JSON object with what it saw; tests/api/interop.rs asserts on it.
"""

import glob
import json
import os
import sys
import tempfile


def main(address, proto_dir, fixture, admin_token):
    import grpc
    import grpc_tools
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="juesuan-py-")
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    protos = sorted(os.path.relpath(p, proto_dir) for p in glob.glob(os.path.join(proto_dir, "juesuan/v1/*.proto")))
    status = protoc.main(["protoc", f"-I{proto_dir}", f"-I{well_known}", f"--python_out={out}",
                          f"--grpc_python_out={out}", *protos])
    if status != 0:
        raise SystemExit(f"protoc failed with {status}")
    sys.path.insert(0, out)

    from google.protobuf import json_format
    from google.rpc import error_details_pb2, status_pb2
    from juesuan.v1 import (access_pb2, access_pb2_grpc, common_pb2, disclosure_pb2, submissions_pb2,
                            submissions_pb2_grpc, units_pb2, units_pb2_grpc)

    channel = grpc.insecure_channel(address)
    admin = [("authorization", f"Bearer {admin_token}")]
    units = units_pb2_grpc.UnitRegistryStub(channel)
    department = units_pb2.Unit(code="652300001", name="昌吉州党委宣传部", valid_from_year=2024,
                                budget_level=common_pb2.BUDGET_LEVEL_PREFECTURE,
                                unit_type=common_pb2.UNIT_TYPE_ADMINISTRATIVE, fiscal_region_code="652300",
                                is_department=True)
    unit = units_pb2.Unit(code="652300101", name="昌吉州融媒体中心", valid_from_year=2024,
                          budget_level=common_pb2.BUDGET_LEVEL_PREFECTURE,
                          unit_type=common_pb2.UNIT_TYPE_PUBLIC_INSTITUTION_CLASS_2, parent_code="652300001",
                          supervising_department_code="652300001", fiscal_region_code="652300")
    for u in (department, unit):
        units.RegisterUnit(units_pb2.RegisterUnitRequest(unit=u), metadata=admin, timeout=30)

    # Without credentials: UNAUTHENTICATED.
    anonymous_code = None
    try:
        units.GetUnit(units_pb2.GetUnitRequest(code="652300101", fiscal_year=2024), timeout=30)
    except grpc.RpcError as error:
        anonymous_code = error.code().name

    tokens = access_pb2_grpc.TokensStub(channel)
    issued = tokens.IssueToken(access_pb2.IssueTokenRequest(principal=access_pb2.Principal(
        unit=access_pb2.UnitPrincipal(unit_code="652300101", role=access_pb2.ROLE_SUBMITTER))),
        metadata=admin, timeout=30)
    as_unit = [("authorization", f"Bearer {issued.secret}")]

    with open(fixture, encoding="utf-8") as f:
        disclosure = json_format.Parse(f.read(), disclosure_pb2.Disclosure())
    submissions = submissions_pb2_grpc.SubmissionsStub(channel)
    response = submissions.Submit(
        submissions_pb2.SubmitRequest(idempotency_key="python-interop-1", disclosure=disclosure), metadata=as_unit,
        timeout=60)
    report = response.submission.report
    first = report.findings[0]

    # A malformed decimal: INVALID_ARGUMENT, with the field path in google.rpc.BadRequest details.
    bad = disclosure_pb2.Disclosure()
    bad.CopyFrom(disclosure)
    bad.tables[0].rows[0].cells[0].value.value = "1,2"
    bad_code, bad_fields = None, []
    try:
        submissions.Submit(submissions_pb2.SubmitRequest(idempotency_key="python-interop-bad", disclosure=bad),
                           metadata=as_unit, timeout=60)
    except grpc.RpcError as error:
        bad_code = error.code().name
        for key, value in error.trailing_metadata() or ():
            if key == "grpc-status-details-bin":
                status = status_pb2.Status.FromString(value)
                for detail in status.details:
                    bad_request = error_details_pb2.BadRequest()
                    if detail.Unpack(bad_request):
                        bad_fields = [v.field for v in bad_request.field_violations]

    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
    services = sorted(ProtoReflectionDescriptorDatabase(channel).get_services())

    print(json.dumps({
        "version": response.submission.version,
        "state": submissions_pb2.SubmissionState.Name(response.submission.state),
        "error_count": report.error_count,
        "warning_count": report.warning_count,
        "error_rules": [f.rule_id for f in report.findings if f.severity == common_pb2.SEVERITY_ERROR],
        "first_provided": first.provided.value,
        "first_expected": first.expected.value,
        "bad_code": bad_code,
        "bad_fields": bad_fields,
        "anonymous_code": anonymous_code,
        "submitted_by": response.submission.submitted_by,
        "services": services,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main(*sys.argv[1:5])

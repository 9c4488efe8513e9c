"""What the functions asked of AWS during a run of the local stack, as moto authorized it
(`moto_server.py` records every check): fails if any function was refused a call, and
lists the permissions in each function's policy that no call used.

A refusal is a call the function's policy in infra/template.yaml does not allow, or one
signed wrongly: in AWS it fails the same way, so the policy or the code is wrong, even
when the flow survived it (a follow-up sent twice because its outbox entry could not be
deleted looks, to a test, like a follow-up sent once). Requests with a presigned link are
the link holder's, not the function's: a test that tampers with a link is refused on
purpose, so those are listed but do not fail the check.

    calls.py [--quiet]    (AWS_ENDPOINT_URL and the administrator's key in the environment)
"""

import json
import os
import sys
import urllib.request
from collections import defaultdict

import boto3


def grants(iam, user):
    """The actions the user's inline policies allow, each once."""
    actions = set()
    for name in iam.list_user_policies(UserName=user)["PolicyNames"]:
        document = iam.get_user_policy(UserName=user, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        for statement in document["Statement"]:
            action = statement["Action"]
            actions.update(action if isinstance(action, list) else [action])
    return sorted(actions)


def main():
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    with urllib.request.urlopen(f"{endpoint}/_peyman/calls") as answer:
        rows = json.load(answer)
    functions = {p for p, *_ in rows if p.endswith("Function")}
    refused = [r for r in rows if r[4]]
    failing = [r for r in refused if r[0] in functions and not r[1].endswith("(presigned link)")]
    used = defaultdict(set)
    for principal, action, _, allowed, _ in rows:
        if allowed:
            used[principal].add(action.removesuffix(" (presigned link)"))

    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    unused = [(user, action) for user in sorted(functions) for action in grants(iam, user) if action not in used[user]]

    print(f"{sum(r[3] for r in rows)} calls allowed, {sum(r[4] for r in rows)} refused, by {len(used)} principals")
    for principal, action, resource, _, denied in refused:
        mark = "REFUSED" if [principal, action, resource] in [r[:3] for r in failing] else "refused (the holder's request)"
        print(f"  {mark}: {principal}: {action} on {resource} ({denied}x)")
    if unused:
        print("granted, and used by no call in this run (a test that needs it is missing, or the grant is not needed):")
        for user, action in unused:
            print(f"  {user}: {action}")
    if failing:
        print("calls outside the function's policy (infra/template.yaml), or wrongly signed: see REFUSED above")
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Creates one IAM user per function in moto, as the administrator in the environment:
the local stand-in for each function's execution role. Reads `{user: policy document}`
as JSON on stdin and prints `{user: {"AccessKeyId": …, "SecretAccessKey": …}}`.

A user left from an earlier start of the same moto is given its policy again and a new
key (its old keys are deleted), so a restarted gateway needs no fresh moto.
"""

import json
import os
import sys

import boto3


def main():
    wanted = json.load(sys.stdin)
    iam = boto3.client("iam", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    credentials = {}
    for user, policy in wanted.items():
        try:
            iam.create_user(UserName=user)
        except iam.exceptions.EntityAlreadyExistsException:
            for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
                iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        if policy["Statement"]:  # a function without statements may do nothing
            iam.put_user_policy(UserName=user, PolicyName="function", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        credentials[user] = {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
    json.dump(credentials, sys.stdout)


if __name__ == "__main__":
    main()

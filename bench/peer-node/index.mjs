// The Node.js peer of our functions for `make bench` (issue 12): what a Node 20 Lambda
// function of the same shape pays to start. In INIT it builds the AWS SDK v3 clients our
// functions build (DynamoDB, S3, SQS) from the environment; each request is one GetItem,
// answered as API Gateway expects. The loop below is the Lambda runtime API's, as the
// runtime interface client runs it: ask for the next event, answer it, again. The bench
// points AWS_ENDPOINT_URL at its loopback stand-in, so nothing calls out.
import http from "node:http";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";

const dynamodb = new DynamoDBClient({});
export const s3 = new S3Client({ forcePathStyle: true });
export const sqs = new SQSClient({});

async function handler(event) {
  const id = event.pathParameters?.order_id ?? "none";
  const found = await dynamodb.send(
    new GetItemCommand({
      TableName: process.env.TABLE_NAME,
      Key: { PK: { S: `ORDER#${id}` }, SK: { S: "ORDER" } },
      ConsistentRead: true,
    }),
  );
  const status = found.Item ? 200 : 404;
  return { statusCode: status, headers: { "content-type": "application/json" }, body: JSON.stringify({ found: !!found.Item }) };
}

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");

function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const request = http.request({ host, port, method, path, agent: false }, (response) => {
      const chunks = [];
      response.on("data", (c) => chunks.push(c));
      response.on("end", () => resolve({ headers: response.headers, body: Buffer.concat(chunks).toString() }));
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end(body);
  });
}

try {
  for (;;) {
    const next = await call("GET", "/2018-06-01/runtime/invocation/next");
    const id = next.headers["lambda-runtime-aws-request-id"];
    if (!id) break;
    const answer = await handler(JSON.parse(next.body));
    await call("POST", `/2018-06-01/runtime/invocation/${id}/response`, JSON.stringify(answer));
  }
} catch {
  // The runtime API went away: the sandbox is done.
}
process.exit(0);

"""localstripe (PyPI) as the local Stripe API, on 127.0.0.1 only and in memory.

Its own CLI listens on every interface and pickles its whole store to
/tmp/localstripe.pickle on every write: slower as the store grows, and shared by two
stacks running at once (`make dev` beside `make test`). Everything else is localstripe's
own code, webhooks included, but for one thing Stripe does and localstripe does not:

**Idempotency-Key.** A POST with a key Stripe has seen (from the same secret key) gets
the first answer again, and nothing happens twice; one arriving while the first is still
running waits for it here (Stripe answers 409 then, and the caller's retry gets the
saved answer). Without this, a refund that the follow-up and the sweeper's timer send at
the same moment was made twice locally, where Stripe makes it once.

    localstripe_server.py PORT
"""

import asyncio
import sys
from collections import defaultdict

from aiohttp import web
from localstripe import resources
from localstripe.server import app

resources.Store.dump_to_disk = lambda self: None

_answers = {}
_running = defaultdict(asyncio.Lock)


@web.middleware
async def idempotency(request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        return await handler(request)
    scope = (request.headers.get("Authorization", ""), key)
    async with _running[scope]:
        if scope not in _answers:
            answer = await handler(request)
            if answer.status < 500:  # Stripe keeps no answer of a failure on its side
                _answers[scope] = (answer.status, answer.body, answer.content_type)
            return answer
        status, body, content_type = _answers[scope]
        return web.Response(status=status, body=body, content_type=content_type, headers={"Idempotent-Replayed": "true"})


app.middlewares.append(idempotency)

web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]))

"""localstripe (PyPI) as the local Stripe API, on 127.0.0.1 only and in memory.

Its own CLI listens on every interface and pickles its whole store to
/tmp/localstripe.pickle on every write: slower as the store grows, and shared by two
stacks running at once (`make dev` beside `make test`). Everything else is localstripe's
own code, webhooks included.

    localstripe_server.py PORT
"""

import sys

from aiohttp import web
from localstripe import resources
from localstripe.server import app

resources.Store.dump_to_disk = lambda self: None

web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]))

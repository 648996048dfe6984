"""Use cases: the dispatcher for commands and clicks, and the scheduled jobs.

Listeners call `Dispatcher`; the scheduler calls the job functions. Both return neutral messages
or reports; nothing here knows Slack, SQL or the TPU API's wire format.
"""

from bot.usecases.context import Actor, Deps
from bot.usecases.dispatch import Dispatcher

__all__ = ["Actor", "Deps", "Dispatcher"]

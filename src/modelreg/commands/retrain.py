"""`modelreg retrain`: retrain on the policy's window and open the retrain PR."""

from __future__ import annotations

import click

from modelreg.commands._options import SCHEDULED_TRIGGERS, forge_option, trigger_option


@click.command()
@click.argument("model")
@trigger_option(
    "Which of the policy's retrain triggers fired.",
    choices=SCHEDULED_TRIGGERS,
    required=True,
)
@forge_option()
def retrain(model: str, trigger: str, forge: str | None) -> None:
    """Retrain on the policy's window and open (or update) the model's retrain PR.

    data-volume retrains only when the data pool grew by retrain.min_new_rows since the
    serving version; both open the PR only when the candidate beats the serving version
    on the candidate's holdout (retrain.must_beat_current).
    """
    from modelreg.forge import select_forge
    from modelreg.registry.workspace import Workspace
    from modelreg.training.retrain import describe, scheduled

    with Workspace.open() as ws:
        outcome = scheduled(ws, select_forge(ws.git, forge), model=model, trigger=trigger)
    click.echo(describe(outcome))

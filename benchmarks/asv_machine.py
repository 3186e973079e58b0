"""asv plugin (asv.conf.json's ``plugins``): describe a new machine with asv's defaults.

On a machine without an entry in ``~/.asv-machine.json``, ``asv run`` stops:
at a terminal it asks five questions, elsewhere it fails with "run `asv machine
--yes`". This plugin, imported by asv before every command, records the answers
``asv machine --yes`` would (asv's own defaults: host name, OS, CPU, cores,
RAM) and says so on stderr, so that ``asv run --python=same --quick`` works as
the first command on a fresh machine. An existing entry is left alone; change
it with ``asv machine``.
"""

import sys


def setup():
    """asv's plugin hook: run once when asv imports the plugin."""
    from asv import util
    from asv.machine import Machine, MachineCollection

    name = Machine.get_unique_machine_name()
    try:
        MachineCollection.load(name)
        return
    except util.UserError:
        pass
    values = Machine.get_defaults()
    MachineCollection.save(values["machine"], values)
    print(f"asv: no description of this machine in {MachineCollection.get_machine_file_path()}; "
          f"recorded asv's defaults for {values['machine']!r} (as `asv machine --yes` does; "
          "`asv machine` changes them)", file=sys.stderr)

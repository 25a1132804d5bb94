from offerpilot.cli import app

app(prog_name="offerpilot")

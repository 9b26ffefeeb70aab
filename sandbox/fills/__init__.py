"""Fill-ins for what moto 5.2.5 lacks, installed by sandbox.server.install_fills()."""

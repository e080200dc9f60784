# A Nomad job that runs a knot server (made by knot scaffold --nomad).
#
# knot runs with the exec driver from /usr/local/bin/knot, which must be
# installed on the Nomad clients (or fetched with an artifact block). Its
# BadgerDB store lives in a host volume "knot-data" that the clients define,
# so it outlives the allocation. Set KNOT_URL to the address browsers use and
# KNOT_SERVER_AGENT_ENDPOINT to where agents in spaces reach port 3010 (the
# Consul service below resolves as srv+knot-server-agent.service.consul).
# Every key of knot scaffold --server can be set in env as its KNOT_* name.
job "knot-server" {
  datacenters = ["dc1"]
  type        = "service"

  group "knot" {
    count = 1

    network {
      port "http" { static = 3000 }
      port "agent" { static = 3010 }
    }

    volume "knot-data" {
      type      = "host"
      source    = "knot-data"
      read_only = false
    }

    service {
      name = "knot-server"
      port = "http"
      check {
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
      }
    }

    service {
      name = "knot-server-agent"
      port = "agent"
    }

    task "server" {
      driver = "exec"

      config {
        command = "/usr/local/bin/knot"
        args    = ["server"]
      }

      volume_mount {
        volume      = "knot-data"
        destination = "/var/lib/knot"
      }

      env {
        KNOT_LISTEN                = "0.0.0.0:3000"
        KNOT_LISTEN_AGENT          = "0.0.0.0:3010"
        KNOT_URL                   = "https://knot.example.com"
        KNOT_SERVER_AGENT_ENDPOINT = "srv+knot-server-agent.service.consul"
        KNOT_LOCATION              = "${node.datacenter}"
        KNOT_BADGERDB_PATH         = "/var/lib/knot/badger"
        KNOT_NOMAD_ADDR            = "http://${attr.unique.network.ip-address}:4646"
        KNOT_LOG_LEVEL             = "info"
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }
}

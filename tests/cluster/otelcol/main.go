// Command otelcol is an OpenTelemetry Collector with only what tests/locust_otel.rs needs:
// the OTLP receiver (gRPC and HTTP) and the file exporter, which writes every batch it
// receives as one line of OTLP JSON. Built from the pinned Go modules by
// tests/cluster/build.sh, like the control-plane binaries. Update go.mod/go.sum with
// `go mod tidy -e`: a few modules only the contrib exporter's own tests import are not
// served by the module proxy.
package main

import (
	"context"
	"log"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry"
	"go.uber.org/zap"
)

func factories() (otelcol.Factories, error) {
	receivers, err := otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory())
	if err != nil {
		return otelcol.Factories{}, err
	}
	exporters, err := otelcol.MakeFactoryMap[exporter.Factory](fileexporter.NewFactory())
	if err != nil {
		return otelcol.Factories{}, err
	}
	return otelcol.Factories{
		Receivers: receivers,
		Exporters: exporters,
		Telemetry: quietTelemetry(),
	}, nil
}

// quietTelemetry logs to stderr and has no internal metrics or traces: unlike the
// standard otelconftelemetry it serves nothing (no :8888) and pulls in no OpenTelemetry
// SDK, which keeps the cold build short. Its `service.telemetry` config is empty.
func quietTelemetry() telemetry.Factory {
	return telemetry.NewFactory(
		func() component.Config { return &struct{}{} },
		telemetry.WithCreateLogger(func(
			context.Context, telemetry.LoggerSettings, component.Config,
		) (*zap.Logger, component.ShutdownFunc, error) {
			logger, err := zap.NewProduction()
			return logger, nil, err
		}),
	)
}

func main() {
	settings := otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "otelcol",
			Description: "OTLP receiver and file exporter for the locust-k8s-operator tests",
			Version:     "test",
		},
		Factories: factories,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{
					envprovider.NewFactory(), fileprovider.NewFactory(),
				},
				DefaultScheme: "env",
			},
		},
	}
	if err := otelcol.NewCommand(settings).Execute(); err != nil {
		log.Fatal(err)
	}
}

// Command otelcol is an OpenTelemetry Collector with only what our tests and the chart use:
//   - tests/integration/locust_otel.rs: the OTLP receiver (gRPC and HTTP) and the file exporter, which
//     writes every batch it receives as one line of OTLP JSON;
//   - the chart's collector (templates/otel-collector.yaml, run in the end-to-end tests as
//     the image of otel/opentelemetry-collector-contrib that tests/e2e/images.sh builds):
//     the OTLP receiver, the batch and memory_limiter processors, the prometheus, debug and
//     otlp exporters and the health_check extension.
//
// Built from the pinned Go modules by tests/cluster/build.sh, like the control-plane
// binaries. Update go.mod/go.sum with `go mod tidy -e`: a few modules only the contrib
// components' own tests import are not served by the module proxy.
package main

import (
	"context"
	"log"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/processor/memorylimiterprocessor"
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
	processors, err := otelcol.MakeFactoryMap[processor.Factory](
		batchprocessor.NewFactory(), memorylimiterprocessor.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	// otlpexporter's type is otlp_grpc, with `otlp` (the chart's name) as its alias.
	exporters, err := otelcol.MakeFactoryMap[exporter.Factory](
		fileexporter.NewFactory(), debugexporter.NewFactory(), otlpexporter.NewFactory(),
		prometheusexporter.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	extensions, err := otelcol.MakeFactoryMap[extension.Factory](healthcheckextension.NewFactory())
	if err != nil {
		return otelcol.Factories{}, err
	}
	return otelcol.Factories{
		Receivers:  receivers,
		Processors: processors,
		Exporters:  exporters,
		Extensions: extensions,
		Telemetry:  quietTelemetry(),
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
			Description: "OpenTelemetry Collector of the locust-k8s-operator tests and chart",
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

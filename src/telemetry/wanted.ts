/** Whether the environment asks for traces (the standard OTel variables); answered without loading OpenTelemetry. */
export const tracesWanted = (env: NodeJS.ProcessEnv): boolean =>
  Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()) && env.OTEL_TRACES_EXPORTER !== 'none';

export { buildGateway, type Gateway, startGateway } from './app.ts';
export { ConfigError, type GatewayConfig, loadConfig } from './config.ts';
export { registerOpenApi } from './openapi.ts';

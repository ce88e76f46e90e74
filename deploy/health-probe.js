#!/usr/bin/env node
// A gRPC health probe (grpc.health.v1.Health/Check) for the edgeinfer server: the container's HEALTHCHECK,
// a systemd ExecStartPost / watchdog, or a load balancer agent that can only run a command.
//   node deploy/health-probe.js [host:port] [--service NAME] [--timeout-ms MS]
//     host:port     default $EDGEINFER_HEALTH_ADDRESS, else 127.0.0.1:50051
//     --service     "" (default: the whole server) or "edgeinfer.v1.Inference"
//     --timeout-ms  deadline of the check, default 2000
// Exit 0 when SERVING; 1 otherwise (NOT_SERVING while draining at shutdown, unknown service, no answer); 2 on usage.
// One line on stdout (SERVING) or stderr (why not).
'use strict';
const grpc = require('@grpc/grpc-js');
const { service: healthService } = require('grpc-health-check');

function usage(message) {
  process.stderr.write(`health-probe: ${message}\nusage: node health-probe.js [host:port] [--service NAME] [--timeout-ms MS]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let address = process.env.EDGEINFER_HEALTH_ADDRESS || '127.0.0.1:50051';
let serviceName = '';
let timeoutMs = 2000;
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--service') {
    if (i + 1 >= args.length) usage('--service needs a name');
    serviceName = args[++i];
  } else if (arg === '--timeout-ms') {
    timeoutMs = Number(args[++i]);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) usage(`--timeout-ms must be a positive integer, got ${args[i]}`);
  } else if (arg.startsWith('--')) {
    usage(`unknown option ${arg}`);
  } else {
    address = arg;
  }
}
if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(address)) usage(`address must be host:port, got ${address}`);

const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
const client = new Health(address, grpc.credentials.createInsecure());
client.check({ service: serviceName }, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) => {
  client.close();
  if (error) {
    process.stderr.write(`health-probe: ${address} ${serviceName || '(server)'}: ${grpc.status[error.code] ?? error.code}: ${error.details}\n`);
    process.exit(1);
  }
  const status = response && response.status;
  if (status === 'SERVING' || status === 1) {
    process.stdout.write(`${address} ${serviceName || '(server)'}: SERVING\n`);
    process.exit(0);
  }
  process.stderr.write(`health-probe: ${address} ${serviceName || '(server)'}: ${status}\n`);
  process.exit(1);
});

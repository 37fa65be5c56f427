// node-standin.js: a stand-in for the node.js BackgroundService server
// that bgserviced replaces, written for the benchmarks (tests/bench/run).
//
// It answers as the original did: the first `data` event of a connection
// is taken as the whole request, `service:data`; the service's command is
// spawned with the data on its standard input, and its output is written
// back before the connection is closed.  `queue:add:service:data` is
// answered `id:` and a random id at once, and the job runs in the
// background once the connection is closed (at most MAX_JOBS at a time,
// the rest wait in memory).
// A caller that shuts down its sending side is answered all the same
// (allowHalfOpen), so that the bench can probe it as it probes the others;
// the callers it measures never do.
// Nothing else of the original is served: this is only what the bench
// measures.
//
// usage: node node-standin.js HOST PORT SERVICE COMMAND [ARG ...]
// HOST must be a loopback address.  Stops on SIGTERM or SIGINT.

'use strict';

const net = require('net');
const crypto = require('crypto');
const { spawn } = require('child_process');

const MAX_JOBS = 4;

function usage(why) {
	process.stderr.write('node-standin: ' + why + '\n' +
	    'usage: node node-standin.js HOST PORT SERVICE COMMAND [ARG ...]\n');
	process.exit(2);
}

const argv = process.argv.slice(2);
if (argv.length < 4)
	usage('too few arguments');
const host = argv[0];
const port = Number(argv[1]);
const service = argv[2];
const command = argv[3];
const args = argv.slice(4);
if (!/^(127\.\d+\.\d+\.\d+|::1)$/.test(host))
	usage(host + ': not a loopback address');
if (!Number.isInteger(port) || port < 1 || port > 65535)
	usage('bad port: ' + argv[1]);

// Run the command with DATA on its standard input; done(code, output).
function run(data, done) {
	const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
	const out = [];

	child.stdout.on('data', (b) => out.push(b));
	child.stdin.on('error', () => {});
	child.on('error', (e) => done(-1, Buffer.from(e.message)));
	child.on('close', (code) => done(code, Buffer.concat(out)));
	child.stdin.end(data);
}

const waiting = [];
let running = 0;

function job_next() {
	while (running < MAX_JOBS && waiting.length > 0) {
		running++;
		run(waiting.shift(), () => {
			running--;
			job_next();
		});
	}
}

// SERVICE:DATA from the front of REQ, or null if the service is unknown.
function split(req) {
	const colon = req.indexOf(':');
	const name = (colon < 0 ? req : req.subarray(0, colon)).toString();

	if (name !== service)
		return null;
	return colon < 0 ? Buffer.alloc(0) : req.subarray(colon + 1);
}

function answer(sock, req) {
	if (req.subarray(0, 10).toString() === 'queue:add:') {
		const data = split(req.subarray(10));

		if (data === null) {
			sock.end('400:Unknown request');
			return;
		}
		// Queued once the connection is closed: spawn() forks node
		// and holds its event loop for a while, which must not delay
		// the answer (answered at once, run in the background).
		sock.once('close', () => {
			waiting.push(data);
			job_next();
		});
		sock.end('id:' + crypto.randomBytes(8).toString('hex'));
		return;
	}
	const data = split(req);
	if (data === null) {
		sock.end('400:Unknown request');
		return;
	}
	run(data, (code, output) => {
		if (code === 0)
			sock.end(output);
		else
			sock.end('500:Service failed');
	});
}

const server = net.createServer({ allowHalfOpen: true }, (sock) => {
	sock.on('error', () => sock.destroy());
	// The first chunk is the whole request, as the original had it.
	sock.once('data', (chunk) => answer(sock, chunk));
});

server.on('error', (e) => {
	process.stderr.write('node-standin: ' + e.message + '\n');
	process.exit(1);
});
server.listen({ host: host, port: port, backlog: 1024 });

for (const sig of ['SIGTERM', 'SIGINT'])
	process.on(sig, () => process.exit(0));

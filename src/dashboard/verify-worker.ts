// Runs audit/verify.ts off the gateway's event loop (audit-view.ts: ChainChecker).
import { parentPort, workerData } from 'node:worker_threads';
import { verifyAuditLog } from '../audit/verify.ts';

parentPort!.postMessage(verifyAuditLog((workerData as { file: string }).file));

import { runSelfTest } from '../actions.ts';
import { useStudio } from '../store.ts';

export function SelfTestPanel() {
  const gpu = useStudio((s) => s.gpu);
  const selfTest = useStudio((s) => s.selfTest);
  const ready = gpu.state === 'ready';
  return (
    <section className="panel self-test">
      <h2>Kernel self-test</h2>
      <p>Runs every WGSL kernel once on this GPU and compares it with a CPU reference.</p>
      <button type="button" onClick={() => void runSelfTest()} disabled={!ready || selfTest.state === 'running'} data-testid="self-test-run">
        {selfTest.state === 'running' ? 'Running…' : 'Run kernel self-test'}
      </button>
      {selfTest.state === 'failed' && <p className="error" role="alert">Self-test could not run: {selfTest.message}</p>}
      {selfTest.state === 'done' && (
        <table data-testid="self-test-results" data-all-passed={String(selfTest.checks.every((c) => c.passed))}>
          <thead><tr><th>kernel</th><th>max rel. error</th><th>ms</th><th /></tr></thead>
          <tbody>
            {selfTest.checks.map((check) => (
              <tr key={check.name} className={check.passed ? 'pass' : 'fail'}>
                <td>{check.name}</td><td>{check.maxRelError.toExponential(2)}</td><td>{check.ms.toFixed(1)}</td><td>{check.passed ? '✓' : '✗'}</td>
              </tr>
            ))}
          </tbody>
          <caption>{selfTest.checks.filter((c) => c.passed).length}/{selfTest.checks.length} passed in {selfTest.ms.toFixed(0)} ms</caption>
        </table>
      )}
    </section>
  );
}

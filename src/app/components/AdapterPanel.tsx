import { formatBytes } from '../../gpu/device.ts';
import { useStudio } from '../store.ts';

export function AdapterPanel() {
  const gpu = useStudio((s) => s.gpu);
  if (gpu.state === 'connecting') return <section className="panel adapter" aria-busy="true">Starting the GPU engine…</section>;
  if (gpu.state === 'unavailable') {
    return (
      <section className="panel adapter error" data-testid="webgpu-unavailable" role="alert">
        <h2>WebGPU is not available</h2>
        <p>{gpu.message}</p>
        <p>Lethe runs entirely on your GPU, in this tab. To use it:</p>
        <ul>{gpu.advice.map((line) => <li key={line}>{line}</li>)}</ul>
      </section>
    );
  }
  const { report, problems } = gpu;
  return (
    <section className="panel adapter" data-testid="adapter-details">
      <h2>GPU</h2>
      <dl>
        <dt>Vendor</dt><dd data-testid="adapter-details-vendor">{report.vendor || 'unknown'}</dd>
        <dt>Architecture</dt><dd>{report.architecture || 'unknown'}</dd>
        <dt>Description</dt><dd>{report.description || '—'}</dd>
        <dt>shader-f16</dt><dd data-testid="adapter-f16">{report.shaderF16 ? 'yes' : 'no (f32 weights only)'}</dd>
        <dt>maxBufferSize</dt><dd>{formatBytes(report.maxBufferSize)}</dd>
        <dt>maxStorageBufferBindingSize</dt><dd>{formatBytes(report.maxStorageBufferBindingSize)}</dd>
      </dl>
      {problems.length > 0 && (
        <div className="warnings" data-testid="adapter-problems">
          {problems.map((problem) => <p key={problem}>⚠ {problem}</p>)}
        </div>
      )}
    </section>
  );
}

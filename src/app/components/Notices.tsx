import { useStudio } from '../store.ts';

export function Notices() {
  const notices = useStudio((s) => s.notices);
  if (notices.length === 0) return null;
  return <aside className="notices" role="status">{notices.map((n, i) => <p key={i}>{n}</p>)}</aside>;
}

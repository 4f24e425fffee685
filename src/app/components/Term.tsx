import type { ReactNode } from 'react';
import { GLOSSARY, type GlossaryTerm } from '../glossary.ts';

/** A term with its one-line explanation beside it (and as a tooltip, for narrow places). */
export function Term({ name, children, inline = false }: { name: GlossaryTerm; children: ReactNode; inline?: boolean }) {
  return (
    <span className={`term${inline ? ' inline' : ''}`} title={GLOSSARY[name]}>
      <span className="term-name">{children}</span>
      <span className="term-hint" data-testid={`hint-${name}`}>
        {GLOSSARY[name]}
      </span>
    </span>
  );
}

/** Only the tooltip: for terms whose explanation is already on screen nearby. */
export function TermTip({ name, children }: { name: GlossaryTerm; children: ReactNode }) {
  return (
    <abbr className="term-tip" title={GLOSSARY[name]}>
      {children}
    </abbr>
  );
}

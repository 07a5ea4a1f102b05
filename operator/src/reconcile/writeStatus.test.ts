import { describe, expect, it } from 'vitest';
import { mergePatch } from './writeStatus.ts';

describe('the status merge patch', () => {
  it('removes keys gone at any depth: a new rollout does not inherit the last one’s verdict', () => {
    const prev = {
      phase: 'Live',
      message: 'old',
      rollout: { phase: 'Promoted', analysis: 'Passed', previewReadyAt: '2026-12-04T10:00:00Z', activeColour: 'green' },
      items: [{ id: 'a', sold: 1 }],
    };
    const next = {
      phase: 'Live',
      rollout: { phase: 'Progressing', activeColour: 'green', startedAt: '2026-12-04T10:05:00Z' },
      items: [{ id: 'b', sold: 0 }],
    };
    expect(mergePatch(prev, next)).toEqual({
      phase: 'Live',
      message: null,
      rollout: {
        phase: 'Progressing',
        activeColour: 'green',
        startedAt: '2026-12-04T10:05:00Z',
        analysis: null,
        previewReadyAt: null,
      },
      // arrays are replaced whole
      items: [{ id: 'b', sold: 0 }],
    });
  });
  it('adds a whole new object as it is', () => {
    expect(mergePatch({}, { rollout: { phase: 'Promoted' } })).toEqual({ rollout: { phase: 'Promoted' } });
  });
});

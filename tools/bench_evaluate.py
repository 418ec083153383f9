"""Quick timing for issue #6: fastloss.evaluate vs cross_entropy alone and vs torch (median of repeated calls, 1 and 2 threads)."""
import time, numpy as np, fastloss
try:
    import torch, torch.nn.functional as F
except ImportError:
    torch = None
def med(f, reps=9):
    f(); ts=[]
    for _ in range(reps):
        t0=time.perf_counter(); f(); ts.append(time.perf_counter()-t0)
    return sorted(ts)[len(ts)//2]
rng=np.random.default_rng(0)
for (n,c) in [(256,128256),(32768,1000)]:
    x=rng.normal(0,2,(n,c)).astype(np.float32); t=rng.integers(0,c,n)
    for th in (1,2):
        with fastloss.threads(th):
            tce=med(lambda: fastloss.cross_entropy(x,t))
            tev=med(lambda: fastloss.evaluate(x,t,topk=(1,5)))
        line=f"{n}x{c} t{th}: ce {tce*1e3:.2f} ms, evaluate {tev*1e3:.2f} ms ({tev/tce:.2f}x)"
        if torch is not None:
            torch.set_num_threads(th)
            xt=torch.from_numpy(x); tt=torch.from_numpy(t)
            def tf():
                with torch.no_grad():
                    ce=F.cross_entropy(xt,tt)
                    top=xt.topk(5,dim=-1).indices
                    hit=(top==tt[:,None]); a1=hit[:,0].float().mean(); a5=hit.any(1).float().mean()
                    lp=torch.log_softmax(xt,-1); ent=-(lp.exp()*lp).sum(-1).mean()
                    lse=torch.logsumexp(xt,-1).mean()
            ttor=med(tf,5)
            line+=f", torch {ttor*1e3:.2f} ms ({ttor/tev:.1f}x slower)"
        print(line, flush=True)
